import { describe, expect, it } from "vitest";
import { diffGraphs } from "./diff";
import type { GraphDefinition } from "./graph";

const v1: GraphDefinition = {
  name: "g",
  nodes: [
    { id: "a", type: "http", config: { url: "https://a" }, position: { x: 0, y: 0 } },
    { id: "b", type: "transform", config: { value: 1 } },
    { id: "gone", type: "merge", config: {} },
  ],
  edges: [{ from: "a", to: "b" }, { from: "a", to: "gone" }],
};
const v2: GraphDefinition = {
  name: "g",
  nodes: [
    { id: "a", type: "http", config: { url: "https://a" }, position: { x: 500, y: 90 } },
    { id: "b", type: "transform", config: { value: 2 } },
    { id: "new", type: "wait", config: { duration: "1m" } },
  ],
  edges: [{ from: "a", to: "b" }, { from: "b", to: "new" }],
};

describe("version diff", () => {
  const diff = diffGraphs(v1, v2);
  it("marks added, removed and changed nodes, ignoring moves", () => {
    expect(Object.fromEntries(diff.nodes)).toEqual({ b: "changed", new: "added", gone: "removed" });
    expect(diff.changedFields.get("b")).toEqual(["config"]);
  });
  it("marks edges and draws both versions together", () => {
    expect(Object.fromEntries(diff.edges)).toEqual({ "b->new": "added", "a->gone": "removed" });
    expect(diff.union.nodes.map((node) => node.id)).toEqual(["a", "b", "new", "gone"]);
    expect(diff.union.edges).toHaveLength(3);
  });
});
