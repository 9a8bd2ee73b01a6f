import { describe, expect, it } from "vitest";
import { dayBefore, formatUsd, routeBody, routeDraft, shares, spendQuery } from "./gateway";
import { formIssues, messageAt, unclaimedMessages } from "./problems";
import { ApiError } from "../api/client";
import type { RouteRead, SpendRow } from "../api/types";

const saved: RouteRead = {
  id: "rt_1",
  name: "fast",
  version: 2,
  created_by: null,
  created_at: "2026-11-30T00:00:00Z",
  updated_at: "2026-11-30T00:00:00Z",
  config: {
    deployments: [
      { model: "openai/gpt-4o-mini", api_key_secret: "OPENAI_KEY", weight: 3, rpm: 500, input_cost_per_token: 0.00000015, output_cost_per_token: 0.0000006 },
      { model: "openai/llama3.1", api_base: "http://10.0.0.5:11434/v1", weight: 1 },
    ],
    strategy: "least-busy",
    fallbacks: ["backup", "slow"],
    context_window_fallbacks: [],
    content_policy_fallbacks: [],
    cooldown_seconds: 60,
    timeout_seconds: 30,
  },
};

describe("route form ↔ RouteConfig", () => {
  it("round-trips a saved route without adding or losing a field", () => {
    const body = routeBody(routeDraft(saved), false);
    expect(body).toEqual({
      deployments: [
        { model: "openai/gpt-4o-mini", api_key_secret: "OPENAI_KEY", weight: 3, rpm: 500, input_cost_per_token: 0.00000015, output_cost_per_token: 0.0000006 },
        { model: "openai/llama3.1", api_base: "http://10.0.0.5:11434/v1", weight: 1 },
      ],
      strategy: "least-busy",
      fallbacks: ["backup", "slow"],
      context_window_fallbacks: [],
      content_policy_fallbacks: [],
      cooldown_seconds: 60,
      timeout_seconds: 30,
    });
  });

  it("sends what is not a number as typed, so the API names the field", () => {
    const draft = routeDraft(saved);
    draft.name = " fast2 ";
    draft.deployments[0]!.rpm = "lots";
    const body = routeBody(draft, true) as { name: string; deployments: { rpm: unknown }[] };
    expect(body.name).toBe("fast2");
    expect(body.deployments[0]?.rpm).toBe("lots");
  });
});

describe("problems next to the field they name", () => {
  const error = new ApiError({
    title: "Validation failed",
    status: 422,
    detail: "deployments.0.api_key_secret: unknown secret 'NOPE'",
    errors: [
      { loc: ["body", "deployments", 0, "api_key_secret"], msg: "unknown secret 'NOPE'" },
      { loc: ["body", "fallbacks", 1], msg: "unknown route 'ghost'" },
      { loc: ["body", "mystery"], msg: "Extra inputs are not permitted" },
    ],
  });
  const issues = formIssues(error);
  it("finds each message under its field", () => {
    expect(messageAt(issues, "deployments[0].api_key_secret")).toBe("unknown secret 'NOPE'");
    expect(messageAt(issues, "deployments[1].api_key_secret")).toBeNull();
    expect(messageAt(issues, "fallbacks")).toBe("unknown route 'ghost'");
  });
  it("keeps what no field shows for the top of the form", () => {
    expect(unclaimedMessages(issues, ["deployments", "fallbacks"])).toEqual(["mystery: Extra inputs are not permitted"]);
    const conflict = formIssues(new ApiError({ title: "Conflict", status: 409, detail: "route 'fast' exists" }));
    expect(unclaimedMessages(conflict, ["name"])).toEqual(["route 'fast' exists"]);
  });
});

describe("spend figures", () => {
  const row = (cost: string): SpendRow => ({ calls: 1, prompt_tokens: 1, completion_tokens: 1, cost_usd: cost, unpriced_calls: 0, cached_calls: 0 });
  it("draws each row against the largest", () => {
    expect(shares([row("0.5"), row("2"), row("0")])).toEqual([0.25, 1, 0]);
    expect(shares([row("0")])).toEqual([0]);
  });
  it("asks for every dimension and the day range", () => {
    expect(spendQuery(["graph", "day"], "2026-11-01", "2026-11-30")).toBe("group_by=graph&group_by=day&since=2026-11-01&until=2026-11-30");
    expect(spendQuery(["model"], "", "")).toBe("group_by=model");
  });
  it("never shows a tiny cost as zero", () => {
    expect(formatUsd("0.0000125")).toBe("$0.000013");
    expect(formatUsd("12.5")).toBe("$12.50");
    expect(formatUsd("0")).toBe("$0");
    expect(formatUsd(null)).toBe("—");
  });
  it("counts days back in UTC", () => {
    expect(dayBefore(new Date("2026-03-01T23:30:00Z"), 1)).toBe("2026-02-28");
  });
});
