/** Following a run: the execution read is the baseline, and each WebSocket event
 * (`node.started`, `node.completed`, `node.failed`, `node.waiting`, `node.skipped`,
 * `node.cancelled`) moves one node on. Events may repeat (a reconnect replays them all),
 * so applying one twice changes nothing. */
import type { NodeState } from "../api/types";
import type { NodeRunStatus } from "./graph";

export interface LiveNode {
  status: NodeRunStatus;
  output?: unknown;
  error?: { type: string; message: string; details?: unknown } | null;
  attempts?: number | null;
  started_at?: string | null;
  finished_at?: string | null;
  label?: string | null;
  reused?: boolean;
  task_id?: string;
  waiting?: boolean;
}

export interface RunEvent {
  type: string;
  node?: string;
  status?: string;
  at?: string | null;
  output?: unknown;
  error?: LiveNode["error"];
  attempts?: number;
  label?: string;
  task_id?: string;
  failed_node?: string;
}

export const FINISHED_RUN = new Set(["completed", "failed", "cancelled", "terminated", "timed_out"]);
export const RUN_STATUS: Record<string, string> = { succeeded: "completed", failed: "failed", cancelled: "cancelled", terminated: "terminated", timed_out: "timed_out" };

export function fromState(state: NodeState): LiveNode {
  return {
    status: state.status as NodeRunStatus,
    output: state.output,
    error: state.error as LiveNode["error"],
    attempts: state.attempts,
    started_at: state.started_at,
    finished_at: state.finished_at,
    label: state.label,
    reused: state.reused,
  };
}

export function applyEvent(nodes: Record<string, LiveNode>, event: RunEvent): Record<string, LiveNode> {
  if (!event.node) return nodes;
  const before: LiveNode = nodes[event.node] ?? { status: "pending" };
  // A replayed start (a reconnect) never takes a finished node back to running.
  const finished = before.status !== "pending" && before.status !== "running";
  if (finished && (event.type === "node.started" || event.type === "node.waiting")) return nodes;
  const next: LiveNode = { ...before };
  switch (event.type) {
    case "node.started":
      next.status = "running";
      next.started_at = event.at ?? before.started_at;
      break;
    case "node.completed":
      Object.assign(next, { status: "succeeded", output: event.output, label: event.label, finished_at: event.at, waiting: false });
      break;
    case "node.failed":
      Object.assign(next, { status: "failed", error: event.error, finished_at: event.at, waiting: false });
      break;
    case "node.waiting":
      Object.assign(next, { status: "running", waiting: true, task_id: event.task_id });
      break;
    case "node.skipped":
      next.status = "skipped";
      break;
    case "node.cancelled":
      Object.assign(next, { status: "cancelled", finished_at: event.at, waiting: false });
      break;
    default:
      return nodes;
  }
  if (event.attempts != null) next.attempts = event.attempts;
  return { ...nodes, [event.node]: next };
}

