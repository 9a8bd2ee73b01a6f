/** The difference of two graph versions: nodes added, removed and changed; edges added and
 * removed. Positions are layout, not content, so moving a node is not a change. */
import { edgeId, type DiffMark, type GraphDefinition, type GraphNode } from "./graph";

export interface GraphDiff {
  nodes: Map<string, DiffMark>;
  edges: Map<string, DiffMark>;
  /** Both versions' nodes and edges together, for drawing on one canvas. */
  union: GraphDefinition;
  changedFields: Map<string, string[]>;
}

function content(node: GraphNode): Record<string, unknown> {
  const { position: _position, ...rest } = node;
  return rest as Record<string, unknown>;
}

function stable(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stable).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined && v !== null)
      .sort(([a], [b]) => a.localeCompare(b));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stable(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

export function diffGraphs(before: GraphDefinition, after: GraphDefinition): GraphDiff {
  const old = new Map(before.nodes.map((node) => [node.id, node]));
  const now = new Map(after.nodes.map((node) => [node.id, node]));
  const nodes = new Map<string, DiffMark>();
  const changedFields = new Map<string, string[]>();
  for (const node of after.nodes) {
    const previous = old.get(node.id);
    if (!previous) nodes.set(node.id, "added");
    else if (stable(content(previous)) !== stable(content(node))) {
      nodes.set(node.id, "changed");
      const a = content(previous);
      const b = content(node);
      const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
      changedFields.set(node.id, [...keys].filter((key) => stable(a[key]) !== stable(b[key])).sort());
    }
  }
  for (const node of before.nodes) if (!now.has(node.id)) nodes.set(node.id, "removed");
  const oldEdges = new Set(before.edges.map(edgeId));
  const newEdges = new Set(after.edges.map(edgeId));
  const edges = new Map<string, DiffMark>();
  for (const edge of after.edges) if (!oldEdges.has(edgeId(edge))) edges.set(edgeId(edge), "added");
  for (const edge of before.edges) if (!newEdges.has(edgeId(edge))) edges.set(edgeId(edge), "removed");
  const union: GraphDefinition = {
    ...after,
    nodes: [...after.nodes, ...before.nodes.filter((node) => !now.has(node.id))],
    edges: [...after.edges, ...before.edges.filter((edge) => !newEdges.has(edgeId(edge)))],
  };
  return { nodes, edges, union, changedFields };
}
