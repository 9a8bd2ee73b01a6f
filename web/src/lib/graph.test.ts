import { describe, expect, it } from "vitest";
import { DEFAULT_HANDLE, fromFlow, newNodeId, sourceHandles, toFlow, upstreamOf, type GraphDefinition } from "./graph";

const triage: GraphDefinition = {
  name: "triage",
  description: "sorts tickets",
  inputs: { type: "object", properties: { ticket: { type: "string" } } },
  vars: { team: "ops" },
  nodes: [
    { id: "fetch", type: "http", config: { url: "https://x.test" }, retry: { maximum_attempts: 3 }, timeout: "30s", on_error: "error", position: { x: 0, y: 0 } },
    { id: "urgent", type: "condition", config: { expression: "true" }, label: "Urgent?", position: { x: 260, y: 0 } },
    { id: "approve", type: "approval", config: { assignees: ["role:manager"], on_timeout: "timeout" }, position: { x: 520, y: 0 } },
    { id: "notify", type: "http", config: { url: "https://y.test", method: "POST" }, execution: "local", position: { x: 780, y: 40 } },
    { id: "fallback", type: "transform", config: { value: 1 }, position: { x: 260, y: 200 } },
  ],
  edges: [
    { from: "fetch", to: "urgent" },
    { from: "fetch", to: "fallback", when: "error" },
    { from: "urgent", to: "approve", when: "true" },
    { from: "urgent", to: "notify", when: "false" },
    { from: "approve", to: "notify", when: "approved" },
    { from: "approve", to: "fallback", when: "timeout" },
  ],
};

describe("graph ↔ React Flow", () => {
  it("round-trips a graph exactly", () => {
    const { nodes, edges } = toFlow(triage);
    const { nodes: _n, edges: _e, ...meta } = triage;
    expect(fromFlow(meta, nodes, edges)).toEqual(triage);
  });

  it("puts labels on source handles and keeps plain edges on the default handle", () => {
    const { edges } = toFlow(triage);
    expect(edges.map((edge) => edge.sourceHandle)).toEqual([DEFAULT_HANDLE, "error", "true", "false", "approved", "timeout"]);
    expect(edges[2]?.label).toBe("true");
    expect(edges[0]?.label).toBeUndefined();
  });

  it("keeps moved positions and drops defaults on the way back", () => {
    const { nodes, edges } = toFlow(triage);
    const moved = nodes.map((node) => (node.id === "fetch" ? { ...node, position: { x: 10.4, y: -3.6 } } : node));
    const first = fromFlow({ name: "t" }, moved, edges).nodes[0];
    expect(first?.position).toEqual({ x: 10, y: -4 });
    const plain = fromFlow({ name: "t" }, [{ id: "a", type: "step", position: { x: 0, y: 0 }, data: { node: { id: "a", type: "merge", config: {}, on_error: "fail" } } }], []);
    expect(plain.nodes[0]).toEqual({ id: "a", type: "merge", config: {}, position: { x: 0, y: 0 } });
  });

  it("lays out nodes without positions on a grid", () => {
    const { nodes } = toFlow({ name: "g", nodes: [{ id: "a", type: "merge", config: {} }, { id: "b", type: "merge", config: {} }], edges: [] });
    expect(nodes[1]?.position.x).toBeGreaterThan(nodes[0]?.position.x ?? 0);
  });
});

describe("handles", () => {
  it("offers the labels each kind can emit", () => {
    expect(sourceHandles({ id: "c", type: "condition", config: {} })).toEqual(["true", "false"]);
    expect(sourceHandles({ id: "s", type: "switch", config: { cases: ["a", "b"] } })).toEqual(["a", "b", "default"]);
    expect(sourceHandles({ id: "p", type: "approval", config: { outcomes: ["ok", "no"], on_timeout: "timeout" } })).toEqual(["ok", "no", "timeout"]);
    expect(sourceHandles({ id: "h", type: "http", config: {}, on_error: "error" })).toEqual([DEFAULT_HANDLE, "error"]);
  });
});

describe("ids and ancestry", () => {
  it("makes fresh identifier ids", () => {
    expect(newNodeId("http", ["http", "http_2"])).toBe("http_3");
    expect(newNodeId("http", [])).toBe("http");
  });
  it("finds every upstream node", () => {
    const { edges } = toFlow(triage);
    expect(upstreamOf("notify", edges).sort()).toEqual(["approve", "fetch", "urgent"]);
    expect(upstreamOf("fetch", edges)).toEqual([]);
  });
});
