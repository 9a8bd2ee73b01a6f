import { describe, expect, it } from "vitest";
import { applyEvent, fromState, type LiveNode, type RunEvent } from "./runEvents";

const events: RunEvent[] = [
  { type: "node.started", node: "fetch", status: "running", at: "2026-01-01T00:00:00Z" },
  { type: "node.completed", node: "fetch", status: "succeeded", at: "2026-01-01T00:00:01.500Z", output: { ok: true }, attempts: 2 },
  { type: "node.started", node: "ask", status: "running", at: "2026-01-01T00:00:02Z" },
  { type: "node.waiting", node: "ask", status: "running", task_id: "t1" },
  { type: "node.skipped", node: "other", status: "skipped" },
];

const replay = (list: RunEvent[], start: Record<string, LiveNode> = {}) => list.reduce(applyEvent, start);

describe("following a run", () => {
  it("moves each node through its events", () => {
    const nodes = replay(events);
    expect(nodes.fetch).toMatchObject({ status: "succeeded", output: { ok: true }, attempts: 2, started_at: "2026-01-01T00:00:00Z" });
    expect(nodes.ask).toMatchObject({ status: "running", waiting: true, task_id: "t1" });
    expect(nodes.other?.status).toBe("skipped");
  });

  it("ends waiting when the node finishes, and carries the error of a failure", () => {
    const nodes = replay([
      ...events,
      { type: "node.completed", node: "ask", status: "succeeded", label: "approved", at: "2026-01-01T00:01:00Z" },
      { type: "node.failed", node: "late", status: "failed", error: { type: "HttpServerError", message: "503" }, attempts: 3 },
    ]);
    expect(nodes.ask).toMatchObject({ status: "succeeded", waiting: false, label: "approved" });
    expect(nodes.late).toMatchObject({ status: "failed", error: { type: "HttpServerError" }, attempts: 3 });
  });

  it("is unchanged by a replay of the same events (a reconnect)", () => {
    const once = replay(events);
    expect(replay(events, once)).toEqual(once);
  });

  it("never takes a finished node back to running", () => {
    const once = replay(events);
    const again = applyEvent(once, events[0] as RunEvent);
    expect(again.fetch?.status).toBe("succeeded");
    expect(again).toBe(once);
  });

  it("ignores events it does not know and events without a node", () => {
    const once = replay(events);
    expect(applyEvent(once, { type: "run.finished", status: "succeeded" })).toBe(once);
    expect(applyEvent(once, { type: "node.mystery", node: "fetch" })).toBe(once);
  });

  it("reads the execution's node states as the baseline", () => {
    expect(fromState({ status: "succeeded", output: 1, attempts: 1, reused: true } as never)).toMatchObject({ status: "succeeded", reused: true });
  });
});
