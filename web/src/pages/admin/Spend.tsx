import { useId, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { api } from "../../api/client";
import { useGraphNames } from "../../api/hooks";
import type { SpendDimension, SpendReport } from "../../api/types";
import { Empty, ErrorBox, PageHeader, Spinner, Table } from "../../components/ui";
import { Bar } from "../../components/fields";
import { DIMENSIONS, dayBefore, formatUsd, shares, spendQuery } from "../../lib/gateway";

export default function SpendPage() {
  const [groupBy, setGroupBy] = useState<SpendDimension[]>(["day"]);
  const [since, setSince] = useState(() => dayBefore(new Date(), 29));
  const [until, setUntil] = useState(() => dayBefore(new Date(), 0));
  const graphs = useGraphNames();
  const query = spendQuery(groupBy, since, until);
  const spend = useQuery({
    queryKey: ["spend", query],
    queryFn: () => api.get<SpendReport>(`/v1/spend?${query}`),
    enabled: groupBy.length > 0,
  });
  const sinceId = useId();
  const untilId = useId();
  const rows = spend.data?.items ?? [];
  const bars = shares(rows);
  const dimensions = DIMENSIONS.filter((dimension) => spend.data?.group_by.includes(dimension.value));
  const total = rows.reduce((sum, row) => sum + (Number(row.cost_usd) || 0), 0);
  const label = (dimension: SpendDimension, value: string | null | undefined): string => {
    if (value == null) return "—";
    return dimension === "graph" ? (graphs.data?.get(value) ?? value) : value;
  };
  return (
    <div>
      <PageHeader title="Spend" subtitle="Settled model calls from the cost ledger, in UTC days. Unpriced calls are counted, not costed." />
      <form className="mb-4 flex flex-wrap items-end gap-4 rounded-lg border border-slate-200 bg-white p-3" onSubmit={(event) => event.preventDefault()}>
        <fieldset>
          <legend className="mb-1 text-sm font-medium text-slate-800">Group by</legend>
          <div className="flex flex-wrap gap-3">
            {DIMENSIONS.map((dimension) => (
              <label key={dimension.value} className="flex items-center gap-1.5 text-sm">
                <input
                  type="checkbox"
                  checked={groupBy.includes(dimension.value)}
                  onChange={(event) =>
                    setGroupBy(event.target.checked ? DIMENSIONS.map((d) => d.value).filter((d) => d === dimension.value || groupBy.includes(d)) : groupBy.filter((d) => d !== dimension.value))
                  }
                />
                {dimension.label}
              </label>
            ))}
          </div>
        </fieldset>
        <div>
          <label htmlFor={sinceId} className="mb-1 block text-sm font-medium text-slate-800">
            From
          </label>
          <input id={sinceId} type="date" value={since} max={until || undefined} onChange={(event) => setSince(event.target.value)} className="rounded-md border border-slate-300 px-2 py-1 text-sm" />
        </div>
        <div>
          <label htmlFor={untilId} className="mb-1 block text-sm font-medium text-slate-800">
            To
          </label>
          <input id={untilId} type="date" value={until} min={since || undefined} onChange={(event) => setUntil(event.target.value)} className="rounded-md border border-slate-300 px-2 py-1 text-sm" />
        </div>
      </form>
      {groupBy.length === 0 ? <p className="mb-3 text-sm text-slate-700">Choose at least one dimension to group by.</p> : null}
      <ErrorBox error={spend.error} />
      {spend.isFetching && !spend.data ? <Spinner /> : null}
      {spend.data && rows.length === 0 ? <Empty>No model calls in these days.</Empty> : null}
      {rows.length ? (
        <>
          <p className="mb-2 text-sm text-slate-700" data-testid="spend-total">
            {rows.reduce((sum, row) => sum + row.calls, 0)} calls, {formatUsd(total)} in all
          </p>
          <Table label="Spend" head={[...dimensions.map((d) => d.label), "Calls", "Tokens in / out", "Cost", "Share"]}>
            {rows.map((row, index) => (
              <tr key={index} data-testid="spend-row">
                {dimensions.map((dimension) => (
                  <td key={dimension.value} className="px-3 py-2 text-xs" data-dimension={dimension.value}>
                    {label(dimension.value, row[dimension.value])}
                  </td>
                ))}
                <td className="px-3 py-2 text-xs">
                  {row.calls}
                  {row.cached_calls ? <span className="text-slate-600"> ({row.cached_calls} cached)</span> : null}
                  {row.unpriced_calls ? <span className="text-amber-800"> ({row.unpriced_calls} unpriced)</span> : null}
                </td>
                <td className="px-3 py-2 text-xs">
                  {row.prompt_tokens} / {row.completion_tokens}
                </td>
                <td className="px-3 py-2 text-xs font-medium" data-testid="spend-cost">
                  {formatUsd(row.cost_usd)}
                </td>
                <td className="w-1/5 px-3 py-2">
                  <Bar fraction={bars[index] ?? 0} />
                </td>
              </tr>
            ))}
          </Table>
        </>
      ) : null}
    </div>
  );
}
