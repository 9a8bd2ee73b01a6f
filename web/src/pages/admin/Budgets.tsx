import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/client";
import { useCan, useGraphNames } from "../../api/hooks";
import type { BudgetList, BudgetRead, Enforcement, Period, RouteList } from "../../api/types";
import { Button, Dialog, Empty, ErrorBox, PageHeader, Spinner, Table, TextField, formatTime } from "../../components/ui";
import { Bar, SelectField } from "../../components/fields";
import { formatUsd } from "../../lib/gateway";
import { formIssues, messageAt, unclaimedMessages } from "../../lib/problems";

type Scope = "tenant" | "graph" | "route";

function scopeOf(budget: BudgetRead, graphs: Map<string, string> | undefined): string {
  if (budget.graph_id) return `graph ${graphs?.get(budget.graph_id) ?? budget.graph_id}`;
  if (budget.route) return `route ${budget.route}`;
  return "whole tenant";
}

export default function BudgetsPage() {
  const queries = useQueryClient();
  const budgets = useQuery({ queryKey: ["budgets"], queryFn: () => api.get<BudgetList>("/v1/budgets") });
  const graphs = useGraphNames();
  const [editing, setEditing] = useState<BudgetRead | "new" | null>(null);
  const remove = useMutation({
    mutationFn: (id: string) => api.delete(`/v1/budgets/${id}`),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ["budgets"] }),
  });
  return (
    <div>
      <PageHeader title="Budgets" subtitle="Spending limits per day or month. A hard budget fails a call that could pass it; warn-only lets it run and says so.">
        <Button tone="primary" onClick={() => setEditing("new")}>
          New budget
        </Button>
      </PageHeader>
      <ErrorBox error={budgets.error ?? remove.error} />
      {budgets.isPending ? <Spinner /> : null}
      {budgets.data?.items.length === 0 ? <Empty>No budgets: model calls are not limited.</Empty> : null}
      {budgets.data?.items.length ? (
        <Table label="Budgets" head={["Name", "Applies to", "Period", "Kind", "Spent of limit", "Reserved", ""]}>
          {budgets.data.items.map((budget) => {
            const used = Number(budget.spent_usd) / Number(budget.limit_usd);
            return (
              <tr key={budget.id} data-budget={budget.name}>
                <td className="px-3 py-2">{budget.name}</td>
                <td className="px-3 py-2 text-xs">{scopeOf(budget, graphs.data)}</td>
                <td className="px-3 py-2 text-xs">
                  {budget.period}
                  <div className="text-slate-600">since {formatTime(budget.window_start)}</div>
                </td>
                <td className="px-3 py-2 text-xs">{budget.enforcement === "hard" ? "hard limit" : "warn only"}</td>
                <td className="min-w-40 px-3 py-2 text-xs">
                  <div className="mb-1" data-testid="budget-spend">
                    {formatUsd(budget.spent_usd)} of {formatUsd(budget.limit_usd)} ({Math.round(used * 100)}%)
                  </div>
                  <Bar fraction={used} tone={used >= 1 ? "red" : used >= 0.8 ? "amber" : "indigo"} />
                </td>
                <td className="px-3 py-2 text-xs">{formatUsd(budget.reserved_usd)}</td>
                <td className="whitespace-nowrap px-3 py-2 text-right">
                  <Button small tone="ghost" aria-label={`Edit ${budget.name}`} onClick={() => setEditing(budget)}>
                    Edit
                  </Button>
                  <Button
                    small
                    tone="ghost"
                    className="text-red-700"
                    aria-label={`Delete ${budget.name}`}
                    onClick={() => {
                      if (confirm(`Delete budget ${budget.name}?`)) remove.mutate(budget.id);
                    }}
                  >
                    Delete
                  </Button>
                </td>
              </tr>
            );
          })}
        </Table>
      ) : null}
      {editing ? <BudgetDialog budget={editing === "new" ? null : editing} onClose={() => setEditing(null)} /> : null}
    </div>
  );
}

const FIELDS = ["name", "limit_usd", "period", "enforcement", "graph_id", "route"];

function BudgetDialog({ budget, onClose }: { budget: BudgetRead | null; onClose: () => void }) {
  const queries = useQueryClient();
  const graphs = useGraphNames();
  const canRoutes = useCan("routes:manage");
  const routes = useQuery({ queryKey: ["routes"], enabled: canRoutes, queryFn: () => api.get<RouteList>("/v1/routes") });
  const [name, setName] = useState(budget?.name ?? "");
  const [limit, setLimit] = useState(budget?.limit_usd ?? "");
  const [period, setPeriod] = useState<Period>(budget?.period ?? "monthly");
  const [enforcement, setEnforcement] = useState<Enforcement>(budget?.enforcement ?? "hard");
  const [scope, setScope] = useState<Scope>(budget?.graph_id ? "graph" : budget?.route ? "route" : "tenant");
  const [graphId, setGraphId] = useState(budget?.graph_id ?? "");
  const [route, setRoute] = useState(budget?.route ?? "");
  const save = useMutation({
    mutationFn: () => {
      const body = {
        limit_usd: limit.trim(),
        period,
        enforcement,
        graph_id: scope === "graph" ? graphId || null : null,
        route: scope === "route" ? route.trim() || null : null,
      };
      return budget ? api.put(`/v1/budgets/${budget.id}`, body) : api.post("/v1/budgets", { name: name.trim(), ...body });
    },
    onSuccess: () => {
      void queries.invalidateQueries({ queryKey: ["budgets"] });
      onClose();
    },
  });
  const issues = formIssues(save.error);
  const top = unclaimedMessages(issues, FIELDS);
  const routeNames = [...new Set([...(routes.data?.items.map((r) => r.name) ?? []), ...(routes.data?.platform_routes ?? [])])];
  return (
    <Dialog title={budget ? `Edit budget ${budget.name}` : "New budget"} onClose={onClose}>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          save.mutate();
        }}
      >
        {budget ? null : <TextField label="Name" value={name} onChange={setName} required error={messageAt(issues, "name")} />}
        <TextField label="Limit (USD)" value={limit} onChange={setLimit} inputMode="decimal" required placeholder="25.00" error={messageAt(issues, "limit_usd")} />
        <div className="grid gap-x-3 sm:grid-cols-2">
          <SelectField label="Period" value={period} onChange={(value) => setPeriod(value as Period)} options={[{ value: "daily", label: "Daily (UTC day)" }, { value: "monthly", label: "Monthly (UTC month)" }]} error={messageAt(issues, "period")} />
          <SelectField label="Enforcement" value={enforcement} onChange={(value) => setEnforcement(value as Enforcement)} options={[{ value: "hard", label: "Hard: fail the call" }, { value: "warn", label: "Warn only" }]} error={messageAt(issues, "enforcement")} />
        </div>
        <SelectField label="Applies to" value={scope} onChange={(value) => setScope(value as Scope)} options={[{ value: "tenant", label: "The whole tenant" }, { value: "graph", label: "One graph" }, { value: "route", label: "One route" }]} />
        {scope === "graph" ? (
          graphs.data ? (
            <SelectField
              label="Graph"
              value={graphId}
              onChange={setGraphId}
              options={[{ value: "", label: "Choose a graph" }, ...[...graphs.data].map(([id, graphName]) => ({ value: id, label: graphName }))]}
              error={messageAt(issues, "graph_id")}
            />
          ) : (
            <TextField label="Graph id" value={graphId} onChange={setGraphId} error={messageAt(issues, "graph_id")} />
          )
        ) : null}
        {scope === "route" ? (
          routeNames.length ? (
            <SelectField label="Route" value={route} onChange={setRoute} options={[{ value: "", label: "Choose a route" }, ...routeNames.map((r) => ({ value: r, label: r }))]} error={messageAt(issues, "route")} />
          ) : (
            <TextField label="Route" value={route} onChange={setRoute} error={messageAt(issues, "route")} />
          )
        ) : null}
        {top.length ? <ErrorBox error={new Error(top.join("; "))} /> : null}
        <div className="mt-3 flex justify-end gap-2">
          <Button onClick={onClose}>Cancel</Button>
          <Button tone="primary" type="submit" disabled={save.isPending || !limit.trim() || (!budget && !name.trim())}>
            Save budget
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
