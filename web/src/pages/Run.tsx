/** /runs/:id — a run on its own version's canvas, followed live over the WebSocket: status
 * colours, attempts, durations, a running indicator; a node inspector; cancel and retry. */
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, eventsUrl } from "../api/client";
import type { ExecutionRead, ExecutionStarted, GraphVersionRead } from "../api/types";
import type { GraphDefinition, StepData } from "../lib/graph";
import { FINISHED_RUN, RUN_STATUS, applyEvent, fromState, type LiveNode, type RunEvent } from "../lib/runEvents";
import { StaticCanvas } from "../canvas/StaticCanvas";
import { JsonView } from "../components/JsonView";
import { Button, ErrorBox, Spinner, StatusBadge, formatDuration, formatTime } from "../components/ui";

function useNow(active: boolean): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(timer);
  }, [active]);
  return now;
}

export default function RunPage() {
  const { runId = "" } = useParams();
  return <RunView key={runId} runId={runId} />;
}

function RunView({ runId }: { runId: string }) {
  const navigate = useNavigate();
  const queries = useQueryClient();
  const execution = useQuery({
    queryKey: ["run", runId],
    queryFn: () => api.get<ExecutionRead>(`/v1/executions/${encodeURIComponent(runId)}`),
  });
  const graphId = execution.data?.graph_id;
  const versions = useQuery({
    queryKey: ["versions", graphId],
    enabled: Boolean(graphId),
    queryFn: () => api.get<GraphVersionRead[]>(`/v1/graphs/${graphId}/versions?definitions=true`),
  });
  const version = versions.data?.find((v) => v.version_id === execution.data?.version_id);
  const [live, setLive] = useState<Record<string, LiveNode>>({});
  const [finished, setFinished] = useState<string | null>(null);
  const [connection, setConnection] = useState<"connecting" | "live" | "closed" | "error">("connecting");
  const [selected, setSelected] = useState<string | null>(null);
  const retries = useRef(0);

  // The execution read is the baseline; live events are applied over it.
  useEffect(() => {
    const nodes = execution.data?.nodes;
    if (!nodes) return;
    setLive((current) => {
      const merged: Record<string, LiveNode> = { ...current };
      for (const [id, state] of Object.entries(nodes)) {
        const known = current[id];
        if (!known || state.status !== "pending") merged[id] = { ...known, ...fromState(state), task_id: known?.task_id, waiting: known?.waiting && state.status === "running" };
      }
      return merged;
    });
  }, [execution.data]);

  useEffect(() => {
    let socket: WebSocket | null = null;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const connect = async () => {
      setConnection("connecting");
      socket = new WebSocket(await eventsUrl(runId));
      socket.onopen = () => {
        retries.current = 0;
        setConnection("live");
      };
      socket.onmessage = (message) => {
        const event = JSON.parse(String(message.data)) as RunEvent;
        if (event.type === "run.finished") {
          setFinished(event.status ?? "completed");
          void queries.invalidateQueries({ queryKey: ["run", runId] });
          return;
        }
        if (event.type === "error") return;
        setLive((nodes) => applyEvent(nodes, event));
      };
      socket.onclose = (close) => {
        if (stopped) return;
        setConnection(close.code === 1000 ? "closed" : "error");
        if (close.code === 4401) void queries.invalidateQueries({ queryKey: ["run", runId] }); // a 401 there refreshes or signs out
        if (close.code !== 1000 && close.code !== 4404 && retries.current < 8) {
          retries.current += 1;
          timer = setTimeout(() => void connect(), Math.min(8000, 500 * 2 ** retries.current));
        }
      };
    };
    void connect();
    return () => {
      stopped = true;
      clearTimeout(timer);
      socket?.close();
    };
  }, [runId, queries]);

  const status = finished ? (RUN_STATUS[finished] ?? finished) : (execution.data?.status ?? "running");
  const running = status === "running";
  const now = useNow(running);

  const decorate = useCallback(
    (id: string): Partial<StepData> | undefined => {
      const node = live[id];
      if (!node) return { run: { status: "pending" } };
      const start = node.started_at ? Date.parse(node.started_at) : null;
      const end = node.finished_at ? Date.parse(node.finished_at) : node.status === "running" ? now : null;
      return { run: { status: node.status, attempts: node.attempts, ms: start != null && end != null ? end - start : null, waiting: node.waiting } };
    },
    [live, now],
  );

  const cancel = useMutation({
    mutationFn: () => api.post(`/v1/executions/${encodeURIComponent(runId)}/cancel`),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ["run", runId] }),
  });
  const retry = useMutation({
    mutationFn: () => api.post<ExecutionStarted>(`/v1/executions/${encodeURIComponent(runId)}/retry`),
    onSuccess: (started) => navigate(`/runs/${encodeURIComponent(started.id)}`),
  });

  const definition = version?.definition as unknown as GraphDefinition | undefined;
  const failedNode = execution.data?.failed_node ?? Object.entries(live).find(([, node]) => node.status === "failed")?.[0];
  const started = execution.data?.started_at;
  const closed = execution.data?.closed_at;

  if (execution.error) return <div className="p-6"><ErrorBox error={execution.error} /></div>;
  if (!execution.data) return <div className="p-6"><Spinner /></div>;

  return (
    <div className="flex h-full flex-col">
      <div className="flex flex-wrap items-center gap-3 border-b border-slate-200 bg-white px-3 py-2 text-sm">
        <h1 className="font-semibold">
          Run of{" "}
          <Link to={`/graphs/${graphId}`} className="text-indigo-700 hover:underline">
            {definition?.name ?? graphId}
          </Link>
          {version ? <span className="ml-1 font-normal text-slate-600">v{version.number}</span> : null}
        </h1>
        <span data-testid="run-status" data-status={status}>
          <StatusBadge status={status} />
        </span>
        <span className="text-slate-700">{formatTime(started)}</span>
        {started ? <span className="text-slate-700">{formatDuration((closed ? Date.parse(closed) : now) - Date.parse(started))}</span> : null}
        <span className="text-xs text-slate-600" aria-live="polite">
          {connection === "live" ? "● live" : connection === "connecting" ? "connecting…" : connection === "error" ? "reconnecting…" : "events ended"}
        </span>
        {execution.data.retry_of ? (
          <Link to={`/runs/${encodeURIComponent(execution.data.retry_of)}`} className="text-xs text-indigo-700 underline">
            retry of an earlier run
          </Link>
        ) : null}
        <div className="ml-auto flex gap-2">
          {running ? (
            <Button small tone="danger" onClick={() => cancel.mutate()} disabled={cancel.isPending}>
              Cancel run
            </Button>
          ) : null}
          {FINISHED_RUN.has(status) && status !== "completed" ? (
            <Button small tone="primary" onClick={() => retry.mutate()} disabled={retry.isPending}>
              Retry from {failedNode ? `“${failedNode}”` : "the failed node"}
            </Button>
          ) : null}
        </div>
      </div>
      <ErrorBox error={cancel.error ?? retry.error ?? versions.error} />
      <div className="flex min-h-0 flex-1">
        <div className="min-w-0 flex-1">
          {definition ? <StaticCanvas definition={definition} decorate={decorate} selected={selected} onSelect={setSelected} /> : <div className="p-6"><Spinner label="Loading the run's version" /></div>}
        </div>
        <aside aria-label="Run inspector" className="w-[380px] shrink-0 overflow-y-auto border-l border-slate-200 bg-white p-3 text-sm">
          {selected && definition ? (
            <NodeInspector id={selected} node={live[selected]} definition={definition} live={live} now={now} />
          ) : (
            <RunSummary execution={execution.data} live={live} onPick={setSelected} />
          )}
        </aside>
      </div>
    </div>
  );
}

function RunSummary({ execution, live, onPick }: { execution: ExecutionRead; live: Record<string, LiveNode>; onPick: (id: string) => void }) {
  return (
    <div className="space-y-3">
      <p className="text-slate-700">Select a node to see its output, error and attempts.</p>
      {execution.error ? (
        <div role="alert" className="rounded-md bg-red-50 p-2 text-red-900">
          <strong>{String((execution.error as { type?: string }).type ?? "Error")}</strong>: {String((execution.error as { message?: string }).message ?? "")}
        </div>
      ) : null}
      <div>
        <h2 className="mb-1 text-xs font-semibold uppercase tracking-wide text-slate-600">Inputs</h2>
        <JsonView value={execution.inputs ?? {}} label="Run inputs" />
      </div>
      <div>
        <h2 className="mb-1 text-xs font-semibold uppercase tracking-wide text-slate-600">Nodes</h2>
        <ul className="divide-y divide-slate-100">
          {Object.entries(live).map(([id, node]) => (
            <li key={id} className="flex items-center justify-between py-1">
              <button type="button" className="font-mono text-indigo-700 underline" onClick={() => onPick(id)}>
                {id}
              </button>
              <StatusBadge status={node.waiting ? "waiting" : node.status} />
            </li>
          ))}
        </ul>
      </div>
      <p className="text-xs text-slate-600">
        Execution <span className="font-mono">{execution.id}</span> · {execution.history_events ?? "?"} history events · trigger {execution.trigger ?? "—"}
      </p>
    </div>
  );
}

function NodeInspector({ id, node, definition, live, now }: { id: string; node: LiveNode | undefined; definition: GraphDefinition; live: Record<string, LiveNode>; now: number }) {
  const spec = definition.nodes.find((n) => n.id === id);
  const parents = definition.edges.filter((edge) => edge.to === id).map((edge) => edge.from);
  const reads = useMemo(() => Object.fromEntries(parents.map((parent) => [parent, live[parent]?.output])), [parents, live]);
  const start = node?.started_at ? Date.parse(node.started_at) : null;
  const end = node?.finished_at ? Date.parse(node.finished_at) : node?.status === "running" ? now : null;
  return (
    <div className="space-y-3" data-inspector={id}>
      <div className="flex items-center gap-2">
        <h2 className="font-mono text-base font-semibold">{id}</h2>
        <span className="text-xs text-slate-600">{spec?.type}</span>
        <span className="ml-auto">
          <StatusBadge status={node?.waiting ? "waiting" : (node?.status ?? "pending")} />
        </span>
      </div>
      <dl className="grid grid-cols-[7rem_1fr] gap-y-1 text-xs">
        <dt className="text-slate-600">Attempts</dt>
        <dd data-testid="attempts">{node?.attempts ?? "—"}</dd>
        <dt className="text-slate-600">Started</dt>
        <dd>{formatTime(node?.started_at)}</dd>
        <dt className="text-slate-600">Finished</dt>
        <dd>{formatTime(node?.finished_at)}</dd>
        <dt className="text-slate-600">Took</dt>
        <dd>{start != null && end != null ? formatDuration(end - start) : "—"}</dd>
        {node?.label ? (
          <>
            <dt className="text-slate-600">Emitted</dt>
            <dd className="font-mono">{node.label}</dd>
          </>
        ) : null}
        {node?.reused ? (
          <>
            <dt className="text-slate-600">Reused</dt>
            <dd>output taken from the earlier run (retry)</dd>
          </>
        ) : null}
      </dl>
      {node?.waiting && node.task_id ? (
        <Link to={`/tasks/${node.task_id}`} className="inline-block rounded-md bg-violet-100 px-3 py-1.5 font-medium text-violet-900 hover:bg-violet-200">
          Waiting on a human task — open it
        </Link>
      ) : null}
      {node?.error ? (
        <div role="alert" className="rounded-md bg-red-50 p-2 text-xs text-red-900">
          <div className="font-semibold">{node.error.type}</div>
          <div className="whitespace-pre-wrap">{node.error.message}</div>
          {node.error.details ? <JsonView value={node.error.details} label="Error details" /> : null}
        </div>
      ) : null}
      <div>
        <h3 className="mb-1 text-xs font-semibold uppercase tracking-wide text-slate-600">Output</h3>
        <JsonView value={node?.output} label={`Output of ${id}`} />
      </div>
      <div>
        <h3 className="mb-1 text-xs font-semibold uppercase tracking-wide text-slate-600">Input (outputs it reads)</h3>
        {parents.length ? <JsonView value={reads} label={`Inputs of ${id}`} /> : <p className="text-xs text-slate-600">A start node: it reads the run's inputs.</p>}
      </div>
      <div>
        <h3 className="mb-1 text-xs font-semibold uppercase tracking-wide text-slate-600">Configuration</h3>
        <JsonView value={spec?.config} label={`Configuration of ${id}`} />
      </div>
    </div>
  );
}
