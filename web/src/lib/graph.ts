/** The graph as the API stores it, and its conversion to React Flow nodes and edges (both
 * directions, in this one module). Positions live in the graph (`node.position`). */
import type { Edge, Node } from "@xyflow/react";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonSchema = { [key: string]: unknown };

export interface RetrySpec {
  initial_interval?: string;
  backoff_coefficient?: number;
  maximum_interval?: string | null;
  maximum_attempts?: number;
  non_retryable_error_types?: string[];
}

export type OnError = "fail" | "continue" | "error";

export interface GraphNode {
  id: string;
  type: string;
  config: Record<string, unknown>;
  retry?: RetrySpec | null;
  timeout?: string | null;
  on_error?: OnError;
  execution?: "activity" | "local" | null;
  label?: string | null;
  position?: { x: number; y: number } | null;
}

export interface GraphEdge {
  from: string;
  to: string;
  when?: string | null;
}

export interface GraphDefinition {
  name: string;
  description?: string | null;
  inputs?: JsonSchema;
  vars?: Record<string, unknown>;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

/** Everything of a graph but its nodes and edges. */
export type GraphMeta = Omit<GraphDefinition, "nodes" | "edges">;

export type NodeRunStatus = "pending" | "running" | "succeeded" | "failed" | "skipped" | "cancelled";
export type DiffMark = "added" | "removed" | "changed";

export interface StepData extends Record<string, unknown> {
  node: GraphNode;
  issues?: string[];
  run?: { status: NodeRunStatus; attempts?: number | null; ms?: number | null; waiting?: boolean };
  diff?: DiffMark;
  /** A branching node with an edge on its default handle keeps showing that handle. */
  usesDefault?: boolean;
}

export type StepNode = Node<StepData, "step">;
export type StepEdge = Edge<{ when: string | null; diff?: DiffMark; issues?: string[] }>;

/** The source handle of edges without a `when` label (any success). */
export const DEFAULT_HANDLE = "out";
export const ERROR_LABEL = "error";

const LABELLED_KINDS = new Set(["condition", "switch", "approval"]);

function stringList(value: unknown, fallback: string[]): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : fallback;
}

/** The `when` labels a node can emit on success, in display order (mirrors the engine's kinds). */
export function nodeLabels(node: GraphNode): string[] {
  switch (node.type) {
    case "condition":
      return ["true", "false"];
    case "switch":
      return [...stringList(node.config.cases, []), "default"];
    case "approval": {
      const outcomes = stringList(node.config.outcomes, ["approved", "rejected"]);
      return node.config.on_timeout === "timeout" ? [...outcomes, "timeout"] : outcomes;
    }
    default:
      return [];
  }
}

/** Every source handle a node shows: its labels, the default one unless it is a branching
 * kind (kept when an edge already uses it), and `error` when it follows error edges. */
export function sourceHandles(node: GraphNode, usedDefault = false): string[] {
  const handles = nodeLabels(node);
  if (!LABELLED_KINDS.has(node.type) || usedDefault) handles.unshift(DEFAULT_HANDLE);
  if (node.on_error === "error") handles.push(ERROR_LABEL);
  return handles;
}

export function edgeId(edge: GraphEdge): string {
  return `${edge.from}->${edge.to}${edge.when ? `:${edge.when}` : ""}`;
}

export function toFlowEdge(edge: GraphEdge): StepEdge {
  const when = edge.when ?? null;
  return {
    id: edgeId(edge),
    source: edge.from,
    target: edge.to,
    sourceHandle: when ?? DEFAULT_HANDLE,
    targetHandle: "in",
    label: when ?? undefined,
    data: { when },
    type: "default",
    className: when === ERROR_LABEL ? "edge-error" : undefined,
    style: when === ERROR_LABEL ? { stroke: "#dc2626" } : undefined,
  };
}

const GRID_X = 260;
const GRID_Y = 130;

export function toFlow(graph: GraphDefinition): { nodes: StepNode[]; edges: StepEdge[] } {
  const nodes = graph.nodes.map(
    (node, index): StepNode => ({
      id: node.id,
      type: "step",
      position: node.position
        ? { x: node.position.x, y: node.position.y }
        : { x: (index % 5) * GRID_X, y: Math.floor(index / 5) * GRID_Y },
      data: { node },
    }),
  );
  return { nodes, edges: graph.edges.map(toFlowEdge) };
}

function cleanNode(node: GraphNode, position: { x: number; y: number }): GraphNode {
  const out: GraphNode = { id: node.id, type: node.type, config: node.config ?? {} };
  if (node.retry) out.retry = node.retry;
  if (node.timeout) out.timeout = node.timeout;
  if (node.on_error && node.on_error !== "fail") out.on_error = node.on_error;
  if (node.execution) out.execution = node.execution;
  if (node.label) out.label = node.label;
  out.position = { x: Math.round(position.x), y: Math.round(position.y) };
  return out;
}

export function fromFlow(meta: GraphMeta, nodes: StepNode[], edges: StepEdge[]): GraphDefinition {
  const graph: GraphDefinition = {
    ...meta,
    nodes: nodes.map((node) => cleanNode({ ...node.data.node, id: node.id }, node.position)),
    edges: edges.map((edge) => {
      const when = edge.data?.when ?? (edge.sourceHandle && edge.sourceHandle !== DEFAULT_HANDLE ? edge.sourceHandle : null);
      const out: GraphEdge = { from: edge.source, to: edge.target };
      if (when) out.when = when;
      return out;
    }),
  };
  return graph;
}

/** A fresh node id for a kind: `http`, `http_2`, … (ids are identifiers: `nodes.<id>`). */
export function newNodeId(kind: string, taken: Iterable<string>): string {
  const used = new Set(taken);
  const base = kind.replace(/[^A-Za-z0-9_]/g, "_").replace(/^(\d)/, "_$1") || "node";
  if (!used.has(base)) return base;
  for (let n = 2; ; n += 1) if (!used.has(`${base}_${n}`)) return `${base}_${n}`;
}

export const NODE_ID = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** Ids of the nodes with a path to `id` (the nodes its expressions may read). */
export function upstreamOf(id: string, edges: { source: string; target: string }[]): string[] {
  const parents = new Map<string, string[]>();
  for (const edge of edges) parents.set(edge.target, [...(parents.get(edge.target) ?? []), edge.source]);
  const seen = new Set<string>();
  const frontier = [...(parents.get(id) ?? [])];
  while (frontier.length) {
    const next = frontier.pop() as string;
    if (seen.has(next)) continue;
    seen.add(next);
    frontier.push(...(parents.get(next) ?? []));
  }
  return [...seen];
}

/** A starter config for a kind, so that a dropped node is close to valid. */
export function starterConfig(kind: string): Record<string, unknown> {
  switch (kind) {
    case "http":
      return { method: "GET", url: "https://" };
    case "llm":
      return { prompt: "" };
    case "transform":
      return { value: "" };
    case "condition":
      return { expression: "" };
    case "switch":
      return { expression: "", cases: ["a", "b"] };
    case "merge":
      return { mode: "all" };
    case "wait":
      return { duration: "1m" };
    case "approval":
      return { assignees: ["role:approver"], outcomes: ["approved", "rejected"] };
    case "subgraph":
      return { graph_id: "", version: "", inputs: {} };
    case "foreach":
      return { items: "", node: { type: "transform", config: { value: "{{ item }}" } } };
    default:
      return {};
  }
}
