import { describe, expect, it } from "vitest";
import { SpecError, comparisonRows, specBody, specDraft, templateVariables } from "./registry";

describe("registry spec form", () => {
  it("round-trips a prompt spec and leaves empty fields out", () => {
    const spec = { template: "Classify: {{ ticket }}", route: "fast", temperature: 0, response_schema: { type: "object" } };
    expect(specBody("prompts", specDraft("prompts", spec))).toEqual(spec);
  });
  it("names the field whose JSON does not parse", () => {
    const draft = specDraft("prompts", { template: "x" });
    draft.response_schema = "{ nope";
    expect(() => specBody("prompts", draft)).toThrow(SpecError);
    try {
      specBody("prompts", draft);
    } catch (error) {
      expect((error as SpecError).field).toBe("spec.response_schema");
    }
  });
  it("sends a number that is not one as typed", () => {
    expect(specBody("models", { route: "fast", temperature: "hot" })).toEqual({ route: "fast", temperature: "hot" });
  });
});

describe("template variables and comparison rows", () => {
  it("finds the variables a template reads, once each", () => {
    expect(templateVariables("{{ ticket }} and {{user.name | upper}} and {{- ticket }}")).toEqual(["ticket", "user"]);
  });
  it("puts both versions' answers side by side", () => {
    const rows = comparisonRows([
      { case: { ticket: "down" }, a: { text: "urgent", cost: 0.001 }, b: { text: "normal", cost: null } },
    ]);
    expect(rows).toEqual([{ case: { ticket: "down" }, a: "urgent", b: "normal", costA: 0.001, costB: null }]);
    expect(comparisonRows(null)).toEqual([]);
  });
});
