/** /graphs/:id — the editor of the current version; `?version=N` opens a past version
 * read-only; `?compare=A,B` draws the difference of two versions on the canvas. */
import { useCallback, useEffect, useMemo, useState } from "react";
import { Link, useParams, useSearchParams } from "react-router-dom";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../api/client";
import { useNodeKinds } from "../api/hooks";
import type { ExecutionList, GraphRead, GraphVersionRead } from "../api/types";
import { diffGraphs } from "../lib/diff";
import { edgeId, type GraphDefinition, type StepEdge } from "../lib/graph";
import { FlowEditor } from "../canvas/FlowEditor";
import { NodePanel } from "../canvas/NodePanel";
import { RunDialog } from "../canvas/RunDialog";
import { StaticCanvas } from "../canvas/StaticCanvas";
import { Button, ErrorBox, Spinner, StatusBadge, formatTime } from "../components/ui";

export default function EditorPage() {
  const { graphId = "" } = useParams();
  const [params, setParams] = useSearchParams();
  const graph = useQuery({ queryKey: ["graph", graphId], queryFn: () => api.get<GraphRead>(`/v1/graphs/${graphId}`) });
  const version = params.get("version");
  const compare = params.get("compare")?.split(",");
  // Every version's definition is only needed to open or compare versions: fetched when the
  // Versions tab is first shown (or the address asks for a version), not on every open.
  const [wantVersions, setWantVersions] = useState(false);
  const versions = useQuery({
    queryKey: ["versions", graphId],
    enabled: wantVersions || Boolean(version) || Boolean(compare),
    queryFn: () => api.get<GraphVersionRead[]>(`/v1/graphs/${graphId}/versions?definitions=true`),
  });
  const [running, setRunning] = useState<GraphDefinition | null>(null);

  if (graph.error) return <div className="p-6"><ErrorBox error={graph.error} /></div>;
  if (!graph.data) return <div className="p-6"><Spinner /></div>;

  const versionsPanel = {
    label: "Versions",
    content: <VersionsPanel onShow={() => setWantVersions(true)} versions={versions.data} current={graph.data.version} onOpen={(n) => setParams({ version: String(n) })} onCompare={(a, b) => setParams({ compare: `${a},${b}` })} />,
  };
  const runsPanel = { label: "Runs", content: <GraphRuns graphId={graphId} /> };

  if (compare && compare.length === 2) {
    const [a, b] = compare.map((n) => versions.data?.find((v) => String(v.number) === n));
    if (!versions.data) return <div className="p-6"><Spinner /></div>;
    if (!a || !b) return <div className="p-6"><ErrorBox error={new Error(`no versions ${compare.join(" and ")} of this graph`)} /></div>;
    return <DiffView graph={graph.data} before={a} after={b} onClose={() => setParams({})} />;
  }
  if (version) {
    const picked = versions.data?.find((v) => String(v.number) === version);
    if (!versions.data) return <div className="p-6"><Spinner /></div>;
    if (!picked) return <div className="p-6"><ErrorBox error={new Error(`this graph has no version ${version}`)} /></div>;
    return <VersionView graph={graph.data} version={picked} onClose={() => setParams({})} />;
  }
  return (
    <>
      <FlowEditor
        key={graph.data.id}
        graph={graph.data}
        definition={graph.data.definition as unknown as GraphDefinition}
        onRun={setRunning}
        side={[versionsPanel, runsPanel]}
      />
      {running ? <RunDialog graphId={graphId} inputs={running.inputs} onClose={() => setRunning(null)} /> : null}
    </>
  );
}

function VersionsPanel({
  versions,
  current,
  onOpen,
  onCompare,
  onShow,
}: {
  onShow: () => void;
  versions: GraphVersionRead[] | undefined;
  current: number;
  onOpen: (n: number) => void;
  onCompare: (a: number, b: number) => void;
}) {
  const [picked, setPicked] = useState<number[]>([]);
  useEffect(onShow, [onShow]);
  if (!versions) return <Spinner />;
  const toggle = (n: number) => setPicked((all) => (all.includes(n) ? all.filter((x) => x !== n) : [...all, n].slice(-2)));
  const [a, b] = [...picked].sort((x, y) => x - y);
  return (
    <div>
      <p className="mb-2 text-xs text-slate-600">Every save is an immutable version. Tick two to compare them.</p>
      <Button small tone="primary" disabled={picked.length !== 2} onClick={() => onCompare(a as number, b as number)} className="mb-2">
        Compare {picked.length === 2 ? `v${a} → v${b}` : "two versions"}
      </Button>
      <ul className="divide-y divide-slate-100" aria-label="Versions">
        {versions.map((version) => (
          <li key={version.version_id} className="flex items-center gap-2 py-2 text-sm">
            <input
              type="checkbox"
              aria-label={`Select version ${version.number} to compare`}
              checked={picked.includes(version.number)}
              onChange={() => toggle(version.number)}
            />
            <div className="min-w-0 flex-1">
              <div className="font-medium">
                v{version.number} {version.number === current ? <span className="text-xs font-normal text-green-800">current</span> : null}
              </div>
              <div className="truncate text-xs text-slate-600">
                {version.created_by ?? "unknown"} · {formatTime(version.created_at)}
              </div>
            </div>
            <Button small tone="ghost" onClick={() => onOpen(version.number)} aria-label={`Open version ${version.number}`}>
              Open
            </Button>
          </li>
        ))}
      </ul>
    </div>
  );
}

function GraphRuns({ graphId }: { graphId: string }) {
  const runs = useQuery({
    queryKey: ["runs", { graph_id: graphId, status: "" }],
    queryFn: () => api.get<ExecutionList>(`/v1/executions?graph_id=${graphId}&limit=20`),
    refetchInterval: 5000,
  });
  if (runs.error) return <ErrorBox error={runs.error} />;
  if (!runs.data) return <Spinner />;
  return (
    <div>
      <Link to={`/runs?graph_id=${graphId}`} className="text-sm text-indigo-700 underline">
        All runs of this graph
      </Link>
      <ul className="mt-2 divide-y divide-slate-100">
        {runs.data.items.length === 0 ? <li className="py-2 text-sm text-slate-600">No runs yet.</li> : null}
        {runs.data.items.map((run) => (
          <li key={run.id} className="flex items-center justify-between gap-2 py-2 text-sm">
            <Link to={`/runs/${encodeURIComponent(run.id)}`} className="truncate text-indigo-700 hover:underline">
              {formatTime(run.started_at)}
            </Link>
            <StatusBadge status={run.status} />
          </li>
        ))}
      </ul>
    </div>
  );
}

function VersionView({ graph, version, onClose }: { graph: GraphRead; version: GraphVersionRead; onClose: () => void }) {
  const kinds = useNodeKinds();
  const [selected, setSelected] = useState<string | null>(null);
  const queries = useQueryClient();
  const definition = version.definition as unknown as GraphDefinition;
  const node = definition.nodes.find((n) => n.id === selected);
  const restore = useMutation({
    mutationFn: () => api.put<GraphRead>(`/v1/graphs/${graph.id}`, definition),
    onSuccess: () => {
      void queries.invalidateQueries({ queryKey: ["graph", graph.id] });
      void queries.invalidateQueries({ queryKey: ["versions", graph.id] });
      onClose();
    },
  });
  return (
    <div className="flex h-full flex-col">
      <div className="flex flex-wrap items-center gap-2 border-b border-amber-200 bg-amber-50 px-3 py-2 text-sm">
        <h1 className="font-semibold">
          {definition.name} — version {version.number} <span className="font-normal">(read-only)</span>
        </h1>
        <span className="text-slate-700">
          by {version.created_by ?? "unknown"}, {formatTime(version.created_at)}
        </span>
        <div className="ml-auto flex gap-2">
          {version.number !== graph.version ? (
            <Button small onClick={() => restore.mutate()} disabled={restore.isPending}>
              Make this the current version
            </Button>
          ) : null}
          <Button small tone="primary" onClick={onClose}>
            Back to the editor
          </Button>
        </div>
      </div>
      <ErrorBox error={restore.error} />
      <div className="flex min-h-0 flex-1">
        <div className="min-w-0 flex-1">
          <StaticCanvas definition={definition} selected={selected} onSelect={setSelected} />
        </div>
        <aside aria-label="Node" className="w-[360px] shrink-0 overflow-y-auto border-l border-slate-200 bg-white p-3">
          {node && kinds.data ? (
            <NodePanel key={node.id} node={node} kinds={kinds.data} readOnly takenIds={[]} onChange={() => undefined} onRename={() => undefined} onDelete={() => undefined} />
          ) : (
            <p className="text-sm text-slate-700">Select a node to see its configuration.</p>
          )}
        </aside>
      </div>
    </div>
  );
}

const EDGE_STYLE = { added: { stroke: "#16a34a", strokeWidth: 2.5 }, removed: { stroke: "#dc2626", strokeWidth: 2.5, strokeDasharray: "5 4" }, changed: {} };

function DiffView({ graph, before, after, onClose }: { graph: GraphRead; before: GraphVersionRead; after: GraphVersionRead; onClose: () => void }) {
  const diff = useMemo(
    () => diffGraphs(before.definition as unknown as GraphDefinition, after.definition as unknown as GraphDefinition),
    [before, after],
  );
  const decorate = useCallback((id: string) => {
    const mark = diff.nodes.get(id);
    return mark ? { diff: mark } : undefined;
  }, [diff]);
  const decorateEdge = useCallback((edge: StepEdge) => {
    const mark = diff.edges.get(edgeId({ from: edge.source, to: edge.target, when: edge.data?.when ?? null }));
    return mark ? { ...edge, style: EDGE_STYLE[mark], label: `${edge.label ?? ""} ${mark}`.trim() } : edge;
  }, [diff]);
  const rows = [...diff.nodes.entries()];
  return (
    <div className="flex h-full flex-col">
      <div className="flex flex-wrap items-center gap-3 border-b border-slate-200 bg-white px-3 py-2 text-sm">
        <h1 className="font-semibold">
          {graph.name}: v{before.number} → v{after.number}
        </h1>
        <span className="flex items-center gap-1"><span className="h-3 w-3 rounded-sm border-2 border-green-600" aria-hidden /> added</span>
        <span className="flex items-center gap-1"><span className="h-3 w-3 rounded-sm border-2 border-red-600" aria-hidden /> removed</span>
        <span className="flex items-center gap-1"><span className="h-3 w-3 rounded-sm border-2 border-amber-500" aria-hidden /> changed</span>
        <Button small tone="primary" className="ml-auto" onClick={onClose}>
          Back to the editor
        </Button>
      </div>
      <div className="flex min-h-0 flex-1">
        <div className="min-w-0 flex-1">
          <StaticCanvas definition={diff.union} decorate={decorate} decorateEdge={decorateEdge} />
        </div>
        <aside aria-label="Changes" className="w-[320px] shrink-0 overflow-y-auto border-l border-slate-200 bg-white p-3 text-sm">
          <h2 className="mb-2 font-semibold">Changes</h2>
          {rows.length === 0 && diff.edges.size === 0 ? <p className="text-slate-600">Same nodes and edges (only layout or graph settings differ).</p> : null}
          <ul className="space-y-1" data-testid="diff-list">
            {rows.map(([id, mark]) => (
              <li key={id}>
                <span className="font-mono">{id}</span> {mark}
                {mark === "changed" ? <span className="text-slate-600"> ({diff.changedFields.get(id)?.join(", ")})</span> : null}
              </li>
            ))}
            {[...diff.edges.entries()].map(([id, mark]) => (
              <li key={id}>
                edge <span className="font-mono">{id}</span> {mark}
              </li>
            ))}
          </ul>
        </aside>
      </div>
    </div>
  );
}
