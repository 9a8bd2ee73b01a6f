import { Fragment, useState } from "react";
import { useInfiniteQuery, useMutation } from "@tanstack/react-query";
import { api } from "../../api/client";
import type { AuditPage as Page, VerificationRead } from "../../api/types";
import { JsonView } from "../../components/JsonView";
import { Button, ErrorBox, PageHeader, Spinner, StatusBadge, Table, formatTime } from "../../components/ui";

export function AuditPage() {
  const [action, setAction] = useState("");
  const [outcome, setOutcome] = useState("");
  const [since, setSince] = useState("");
  const [open, setOpen] = useState<string | null>(null);
  const filters = new URLSearchParams({ limit: "50" });
  if (action.trim()) filters.set("action", action.trim());
  if (outcome) filters.set("outcome", outcome);
  if (since) filters.set("since", new Date(since).toISOString());
  const entries = useInfiniteQuery({
    queryKey: ["audit", filters.toString()],
    initialPageParam: "",
    queryFn: ({ pageParam }) => api.get<Page>(`/v1/audit?${filters}${pageParam ? `&cursor=${pageParam}` : ""}`),
    getNextPageParam: (page) => page.next_cursor ?? undefined,
  });
  const verify = useMutation({ mutationFn: () => api.post<VerificationRead>("/v1/audit/verify") });
  const exportAll = useMutation({
    mutationFn: async () => {
      const response = await api.get<Response>(`/v1/audit/export${since ? `?since=${encodeURIComponent(new Date(since).toISOString())}` : ""}`, { raw: true });
      const blob = await response.blob();
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = "audit.jsonl";
      link.click();
      URL.revokeObjectURL(link.href);
    },
  });
  const items = entries.data?.pages.flatMap((page) => page.items) ?? [];
  return (
    <div>
      <PageHeader title="Audit trail" subtitle="Append-only and hash-chained: who did what, when, with what outcome.">
        <Button onClick={() => verify.mutate()} disabled={verify.isPending}>
          Verify the chain
        </Button>
        <Button onClick={() => exportAll.mutate()} disabled={exportAll.isPending}>
          Export (JSON Lines)
        </Button>
      </PageHeader>
      {verify.data ? (
        <div role="status" className={`mb-3 rounded-md px-3 py-2 text-sm ${verify.data.ok ? "bg-green-50 text-green-900" : "bg-red-50 text-red-900"}`}>
          {verify.data.ok
            ? `Chain verified: ${verify.data.entries} entries, last #${verify.data.last_seq}.`
            : `Chain broken at entry #${verify.data.broken_seq}: ${verify.data.reason}`}
        </div>
      ) : null}
      <ErrorBox error={entries.error ?? verify.error ?? exportAll.error} />
      <div className="mb-3 flex flex-wrap items-end gap-3">
        <div>
          <label htmlFor="audit-action" className="mb-1 block text-xs font-semibold">
            Action
          </label>
          <input id="audit-action" value={action} placeholder="graph.* or execution.start" onChange={(event) => setAction(event.target.value)} className="rounded-md border border-slate-300 px-2 py-1 text-sm" />
        </div>
        <div>
          <label htmlFor="audit-outcome" className="mb-1 block text-xs font-semibold">
            Outcome
          </label>
          <select id="audit-outcome" value={outcome} onChange={(event) => setOutcome(event.target.value)} className="rounded-md border border-slate-300 bg-white px-2 py-1 text-sm">
            <option value="">any</option>
            <option value="success">success</option>
            <option value="failure">failure</option>
            <option value="denied">denied</option>
          </select>
        </div>
        <div>
          <label htmlFor="audit-since" className="mb-1 block text-xs font-semibold">
            Since
          </label>
          <input id="audit-since" type="datetime-local" value={since} onChange={(event) => setSince(event.target.value)} className="rounded-md border border-slate-300 px-2 py-1 text-sm" />
        </div>
      </div>
      {entries.isPending ? <Spinner /> : null}
      {items.length ? (
        <Table label="Audit entries" head={["#", "When", "Actor", "Action", "Targets", "Outcome"]}>
          {items.map((entry) => (
            <Fragment key={entry.id}>
              <tr className="cursor-pointer hover:bg-slate-50" onClick={() => setOpen(open === entry.id ? null : entry.id)}>
                <td className="px-3 py-2 text-xs">
                  <button type="button" aria-expanded={open === entry.id} className="underline">
                    {entry.seq}
                  </button>
                </td>
                <td className="px-3 py-2 text-xs">{formatTime(entry.occurred_at)}</td>
                <td className="px-3 py-2 text-xs">{entry.actor.name ?? entry.actor.id ?? entry.actor.type}</td>
                <td className="px-3 py-2 font-mono text-xs">{entry.action}</td>
                <td className="max-w-xs truncate px-3 py-2 text-xs">{entry.targets.map((target) => String(target.name ?? target.id)).join(", ")}</td>
                <td className="px-3 py-2">
                  <StatusBadge status={entry.outcome === "success" ? "succeeded" : entry.outcome} />
                </td>
              </tr>
              {open === entry.id ? (
                <tr>
                  <td colSpan={6} className="bg-slate-50 px-3 py-2">
                    <JsonView value={{ details: entry.details, context: entry.context, targets: entry.targets, hash: entry.hash }} label={`Entry ${entry.seq}`} />
                  </td>
                </tr>
              ) : null}
            </Fragment>
          ))}
        </Table>
      ) : entries.data ? (
        <p className="text-sm text-slate-700">No entries match.</p>
      ) : null}
      {entries.hasNextPage ? (
        <Button className="mt-3" onClick={() => void entries.fetchNextPage()} disabled={entries.isFetchingNextPage}>
          Older entries
        </Button>
      ) : null}
    </div>
  );
}
