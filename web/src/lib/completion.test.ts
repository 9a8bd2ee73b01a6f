import { describe, expect, it } from "vitest";
import { apply, complete, type CompletionScope, type Vocabulary } from "./completion";

const vocabulary: Vocabulary = {
  roots: ["index", "inputs", "item", "nodes", "secrets", "vars"],
  filters: ["default", "length", "lower", "tojson", "upper"],
  tests: ["defined", "number", "==" ],
  globals: ["range"],
};
const scope: CompletionScope = { inputs: ["ticket", "url"], vars: ["team"], nodes: ["fetch", "classify"], secrets: ["TOKEN"], secretsAllowed: false, inForeach: false };
const labels = (text: string, mode: "template" | "expression" = "template", s = scope) =>
  complete(text, text.length, mode, s, vocabulary)?.items.map((item) => item.label) ?? [];

describe("expression completion", () => {
  it("completes roots, inputs, vars and upstream nodes", () => {
    expect(labels("Hi {{ ")).toEqual(["inputs", "vars", "nodes", "range"]);
    expect(labels("Hi {{ inputs.t")).toEqual(["ticket"]);
    expect(labels("{{ vars.")).toEqual(["team"]);
    expect(labels("{{ nodes.")).toEqual(["fetch", "classify"]);
    expect(labels("{{ nodes.fetch.o")).toEqual(["output"]);
  });
  it("completes only inside tags in templates, everywhere in expressions", () => {
    expect(labels("Hi inputs.")).toEqual([]);
    expect(labels("{{ x }} inputs.")).toEqual([]);
    expect(labels("inputs.u", "expression")).toEqual(["url"]);
  });
  it("offers filters after a pipe and tests after is", () => {
    expect(labels("{{ inputs.url | lo")).toEqual(["lower"]);
    expect(labels("nodes.fetch.output is n", "expression")).toEqual(["number"]);
  });
  it("offers secrets only where a node may read them, item inside foreach", () => {
    expect(labels("{{ se")).toEqual([]);
    expect(labels("{{ se", "template", { ...scope, secretsAllowed: true })).toEqual(["secrets"]);
    expect(labels("{{ secrets.", "template", { ...scope, secretsAllowed: true })).toEqual(["TOKEN"]);
    expect(labels("{{ it", "template", { ...scope, inForeach: true })).toEqual(["item"]);
  });
  it("applies a completion at the caret", () => {
    const text = "{{ inputs.ti }}";
    const result = complete(text, 12, "template", scope, vocabulary);
    expect(result).not.toBeNull();
    expect(apply(text, result!, result!.items[0]!)).toEqual({ text: "{{ inputs.ticket }}", caret: 16 });
  });
});
