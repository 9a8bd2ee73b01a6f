/** How each node kind looks on the canvas. Unknown kinds get a neutral look. */
export const KIND_LOOK: Record<string, { tag: string; color: string; title: string }> = {
  http: { tag: "HTTP", color: "bg-sky-700", title: "HTTP request" },
  llm: { tag: "LLM", color: "bg-fuchsia-700", title: "AI model call" },
  transform: { tag: "FX", color: "bg-teal-700", title: "Transform" },
  condition: { tag: "IF", color: "bg-amber-700", title: "Condition" },
  switch: { tag: "SW", color: "bg-orange-700", title: "Switch" },
  merge: { tag: "JOIN", color: "bg-slate-700", title: "Merge" },
  wait: { tag: "WAIT", color: "bg-cyan-800", title: "Wait" },
  approval: { tag: "OK?", color: "bg-violet-700", title: "Human approval" },
  subgraph: { tag: "SUB", color: "bg-indigo-700", title: "Subgraph" },
  foreach: { tag: "EACH", color: "bg-emerald-700", title: "For each" },
};

export function lookOf(kind: string) {
  return KIND_LOOK[kind] ?? { tag: kind.slice(0, 4).toUpperCase(), color: "bg-slate-600", title: kind };
}

export const STATUS_RING: Record<string, string> = {
  running: "border-blue-500 ring-2 ring-blue-200",
  succeeded: "border-green-600",
  failed: "border-red-600 ring-2 ring-red-200",
  skipped: "border-slate-300 opacity-60",
  cancelled: "border-amber-500",
  pending: "border-slate-300",
};

export const DIFF_RING: Record<string, string> = {
  added: "border-green-600 ring-2 ring-green-200",
  removed: "border-red-600 ring-2 ring-red-200 opacity-70",
  changed: "border-amber-500 ring-2 ring-amber-200",
};
