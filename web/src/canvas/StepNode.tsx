import { memo } from "react";
import { Handle, Position, type NodeProps } from "@xyflow/react";
import { DEFAULT_HANDLE, ERROR_LABEL, sourceHandles, type StepNode } from "../lib/graph";
import { formatDuration } from "../components/ui";
import { DIFF_RING, STATUS_RING, lookOf } from "./kinds";

function StepNodeView({ id, data }: NodeProps<StepNode>) {
  const node = data.node;
  const look = lookOf(node.type);
  const handles = sourceHandles(node, Boolean(data.usesDefault));
  const issues = data.issues ?? [];
  const run = data.run;
  const ring = data.diff ? DIFF_RING[data.diff] : run ? STATUS_RING[run.status] : issues.length ? "border-red-500" : "border-slate-300";
  const labelled = handles.filter((handle) => handle !== DEFAULT_HANDLE);
  const height = Math.max(64, 22 + labelled.length * 18);
  return (
    <div
      className={`relative w-[200px] rounded-lg border-2 bg-white ${ring}`}
      style={{ minHeight: height }}
      data-testid={`node-${id}`}
      data-status={run?.status}
      data-issues={issues.length || undefined}
    >
      <Handle type="target" position={Position.Left} id="in" />
      <div className="flex items-center gap-2 px-2 pt-2">
        <span className={`rounded px-1.5 py-0.5 text-[10px] font-bold tracking-wide text-white ${look.color}`} title={look.title}>
          {look.tag}
        </span>
        <span className="truncate text-xs text-slate-600">{node.type}</span>
        {run?.status === "running" ? <span className="running-dot ml-auto h-2 w-2 rounded-full bg-blue-600" role="img" aria-label="running" /> : null}
      </div>
      <div className="truncate px-2 pb-2 pr-12 text-sm font-semibold text-slate-900" title={node.id}>
        {node.label || node.id}
      </div>
      {run ? (
        <div className="flex gap-2 border-t border-slate-100 px-2 py-1 text-[11px] text-slate-700">
          <span className="font-medium">{run.waiting ? "waiting" : run.status}</span>
          {run.attempts && run.attempts > 1 ? <span>{run.attempts} attempts</span> : null}
          {run.ms != null ? <span className="ml-auto">{formatDuration(run.ms)}</span> : null}
        </div>
      ) : null}
      {issues.length ? (
        <span
          className="absolute -right-2 -top-2 flex h-5 min-w-5 items-center justify-center rounded-full bg-red-600 px-1 text-[11px] font-bold text-white"
          title={issues.join("\n")}
          data-testid={`issues-${id}`}
        >
          {issues.length}
          <span className="sr-only"> problem{issues.length > 1 ? "s" : ""}</span>
        </span>
      ) : null}
      {handles.includes(DEFAULT_HANDLE) ? (
        <Handle type="source" position={Position.Right} id={DEFAULT_HANDLE} style={labelled.length ? { top: "auto", bottom: 6 } : undefined} />
      ) : null}
      {labelled.map((handle, index) => {
        const top = 22 + index * 18;
        return (
          <div key={handle}>
            <span
              className={`pointer-events-none absolute right-2 text-[10px] font-semibold ${handle === ERROR_LABEL ? "text-red-700" : "text-slate-700"}`}
              style={{ top: top - 7 }}
            >
              {handle}
            </span>
            <Handle
              type="source"
              position={Position.Right}
              id={handle}
              style={{ top, background: handle === ERROR_LABEL ? "#dc2626" : undefined }}
              data-handle={handle}
            />
          </div>
        );
      })}
    </div>
  );
}

export const nodeTypes = { step: memo(StepNodeView) };
