import { describe, expect, it } from "vitest";
import { issuesForField, issuesOf, unclaimed } from "./problems";

const problem = {
  title: "Validation failed",
  status: 422,
  detail: "graph is invalid",
  errors: [
    { loc: ["body", "nodes", "check", "config", "expression"], msg: "unexpected '}'", node: "check", field: "config.expression", position: 7 },
    { loc: ["body", "nodes", "call", "config", "json", "text"], msg: "unknown node 'x'", node: "call", field: "config.json.text", position: 3 },
    { loc: ["body", "nodes", "call", "on_error"], msg: "no error edge", node: "call", field: "on_error" },
    { loc: ["body", "edges[2].to"], msg: "unknown node 'ghost'", node: null, field: "edges[2].to" },
    { loc: ["body", "nodes", "check", "edges[1].when"], msg: "a condition node cannot emit 'maybe'", node: "check", field: "edges[1].when" },
    { loc: ["body", "name"], msg: "required", node: null, field: "name" },
  ],
};

describe("problem → node and field", () => {
  const issues = issuesOf(problem);

  it("groups issues by node, edge and graph", () => {
    expect([...issues.byNode.keys()]).toEqual(["check", "call"]);
    expect(issues.byNode.get("call")).toHaveLength(2);
    expect(issues.byEdge.get(2)?.[0]?.message).toMatch(/ghost/);
    expect(issues.byEdge.get(1)?.[0]?.field).toBe("edges[1].when");
    expect(issues.graph.map((issue) => issue.field)).toEqual(["name"]);
  });

  it("puts an issue under the field it names, or the field containing it", () => {
    expect(issuesForField(issues.byNode.get("check"), "config.expression")[0]?.position).toBe(7);
    expect(issuesForField(issues.byNode.get("call"), "config.json")).toHaveLength(1);
    expect(issuesForField(issues.byNode.get("call"), "config.js")).toHaveLength(0);
    expect(unclaimed(issues.byNode.get("call"), ["config.json"]).map((i) => i.field)).toEqual(["on_error"]);
  });

  it("falls back to the detail when a problem has no errors, and reads loc without field", () => {
    expect(issuesOf({ title: "Conflict", status: 409, detail: "nope" }).graph[0]?.message).toBe("nope");
    const mapped = issuesOf({ title: "x", status: 422, detail: "x", errors: [{ loc: ["body", "nodes", 0, "id"], msg: "bad" }] });
    expect(mapped.graph[0]?.field).toBe("nodes[0].id");
  });
});
