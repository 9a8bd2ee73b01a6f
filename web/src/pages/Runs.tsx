import { Link, useSearchParams } from "react-router-dom";
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { api } from "../api/client";
import type { ExecutionList, GraphRead } from "../api/types";
import { Button, Empty, ErrorBox, PageHeader, Spinner, StatusBadge, Table, formatDuration, formatTime } from "../components/ui";

const STATUSES = ["", "running", "completed", "failed", "cancelled", "terminated", "timed_out"];

export function RunsPage() {
  const [params, setParams] = useSearchParams();
  const graphId = params.get("graph_id") ?? "";
  const status = params.get("status") ?? "";
  const graph = useQuery({ queryKey: ["graph", graphId], enabled: Boolean(graphId), queryFn: () => api.get<GraphRead>(`/v1/graphs/${graphId}`) });
  const runs = useInfiniteQuery({
    queryKey: ["runs", { graph_id: graphId, status }],
    initialPageParam: "",
    queryFn: ({ pageParam }) => {
      const query = new URLSearchParams({ limit: "50" });
      if (graphId) query.set("graph_id", graphId);
      if (status) query.set("status", status);
      if (pageParam) query.set("cursor", pageParam);
      return api.get<ExecutionList>(`/v1/executions?${query}`);
    },
    getNextPageParam: (page) => page.next_cursor ?? undefined,
    refetchInterval: 5000,
  });
  const items = runs.data?.pages.flatMap((page) => page.items) ?? [];
  const graphs = useQuery({ queryKey: ["graphs", ""], queryFn: () => api.get<GraphRead[]>("/v1/graphs?limit=200") });
  const names = new Map((graphs.data ?? []).map((entry) => [entry.id, entry.name]));
  const set = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next);
  };
  return (
    <div className="mx-auto max-w-6xl p-4 sm:p-6">
      <PageHeader
        title={graphId ? `Runs of ${graph.data?.name ?? graphId}` : "Runs"}
        subtitle="From Temporal's visibility, newest first; refreshed every few seconds."
      >
        {graphId ? (
          <>
            <Link to={`/graphs/${graphId}`} className="text-sm text-indigo-700 underline">
              Open the graph
            </Link>
            <Button small onClick={() => set("graph_id", "")}>
              All graphs
            </Button>
          </>
        ) : null}
      </PageHeader>
      <div className="mb-3 flex items-center gap-2">
        <label htmlFor="run-status" className="text-sm font-medium text-slate-800">
          Status
        </label>
        <select id="run-status" value={status} onChange={(event) => set("status", event.target.value)} className="rounded-md border border-slate-300 bg-white px-2 py-1 text-sm">
          {STATUSES.map((value) => (
            <option key={value} value={value}>
              {value ? value.replace("_", " ") : "any"}
            </option>
          ))}
        </select>
      </div>
      <ErrorBox error={runs.error} />
      {runs.isPending ? (
        <Spinner />
      ) : items.length === 0 ? (
        <Empty>No runs{status ? ` with status ${status}` : ""} yet.</Empty>
      ) : (
        <Table label="Runs" head={["Run", "Status", "Graph", "Trigger", "Started", "Took"]}>
          {items.map((run) => (
            <tr key={run.id} className="hover:bg-slate-50">
              <td className="max-w-[16rem] truncate px-3 py-2 font-mono text-xs">
                <Link to={`/runs/${encodeURIComponent(run.id)}`} className="text-indigo-700 hover:underline" title={run.id}>
                  {run.id.split(":").pop()}
                </Link>
              </td>
              <td className="px-3 py-2">
                <StatusBadge status={run.status} />
              </td>
              <td className="px-3 py-2">
                {run.graph_id ? (
                  <Link to={`/runs?graph_id=${run.graph_id}`} className="text-slate-800 hover:underline" title={run.graph_id}>
                    {names.get(run.graph_id) ?? run.graph_id}
                  </Link>
                ) : (
                  "—"
                )}
              </td>
              <td className="px-3 py-2 text-slate-700">{run.trigger ?? "—"}</td>
              <td className="px-3 py-2 text-slate-700">{formatTime(run.started_at)}</td>
              <td className="px-3 py-2 text-slate-700">
                {run.started_at && run.closed_at ? formatDuration(Date.parse(run.closed_at) - Date.parse(run.started_at)) : ""}
              </td>
            </tr>
          ))}
        </Table>
      )}
      {runs.hasNextPage ? (
        <Button className="mt-3" onClick={() => void runs.fetchNextPage()} disabled={runs.isFetchingNextPage}>
          Load older runs
        </Button>
      ) : null}
    </div>
  );
}
