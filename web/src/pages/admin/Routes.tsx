import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/client";
import { useCan, useSecretNames } from "../../api/hooks";
import type { RouteList, RouteRead } from "../../api/types";
import { Button, Dialog, Empty, ErrorBox, PageHeader, Spinner, Table, TextField, formatTime } from "../../components/ui";
import { SelectField } from "../../components/fields";
import { STRATEGIES, emptyDeployment, routeBody, routeDraft, type DeploymentDraft, type RouteDraft } from "../../lib/gateway";
import { formIssues, messageAt, unclaimedMessages, type Issue } from "../../lib/problems";

export function useRoutes() {
  return useQuery({ queryKey: ["routes"], queryFn: () => api.get<RouteList>("/v1/routes") });
}

export default function RoutesPage() {
  const queries = useQueryClient();
  const routes = useRoutes();
  const [editing, setEditing] = useState<RouteRead | "new" | null>(null);
  const remove = useMutation({
    mutationFn: (name: string) => api.delete(`/v1/routes/${encodeURIComponent(name)}`),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ["routes"] }),
  });
  return (
    <div>
      <PageHeader title="AI routes" subtitle={'What an llm node names with {"route": "<name>"}: deployments, load balancing, fallbacks.'}>
        <Button tone="primary" onClick={() => setEditing("new")}>
          New route
        </Button>
      </PageHeader>
      <ErrorBox error={routes.error ?? remove.error} />
      {routes.isPending ? <Spinner /> : null}
      {routes.data?.platform_routes.length ? (
        <p className="mb-3 text-sm text-slate-700">
          From the platform: {routes.data.platform_routes.map((name) => <code key={name} className="mr-1 rounded bg-slate-100 px-1 font-mono text-xs">{name}</code>)}
          (a route of yours with the same name takes precedence)
        </p>
      ) : null}
      {routes.data?.items.length === 0 ? <Empty>No routes of this tenant yet.</Empty> : null}
      {routes.data?.items.length ? (
        <Table label="AI routes" head={["Name", "Deployments", "Strategy", "Fallbacks", "Version", "Updated", ""]}>
          {routes.data.items.map((route) => (
            <tr key={route.id}>
              <td className="px-3 py-2 font-mono text-xs">{route.name}</td>
              <td className="px-3 py-2 text-xs">
                {route.config.deployments.map((deployment, index) => (
                  <div key={index}>
                    {deployment.model}
                    {deployment.weight && deployment.weight !== 1 ? ` ×${deployment.weight}` : ""}
                    {deployment.api_key_secret ? <span className="text-slate-600"> · key {deployment.api_key_secret}</span> : null}
                  </div>
                ))}
              </td>
              <td className="px-3 py-2 text-xs">{STRATEGIES.find((s) => s.value === route.config.strategy)?.label ?? route.config.strategy}</td>
              <td className="px-3 py-2 text-xs">{route.config.fallbacks?.join(" → ") || "—"}</td>
              <td className="px-3 py-2">{route.version}</td>
              <td className="px-3 py-2 text-xs">{formatTime(route.updated_at)}</td>
              <td className="whitespace-nowrap px-3 py-2 text-right">
                <Button small tone="ghost" onClick={() => setEditing(route)} aria-label={`Edit ${route.name}`}>
                  Edit
                </Button>
                <Button
                  small
                  tone="ghost"
                  className="text-red-700"
                  aria-label={`Delete ${route.name}`}
                  onClick={() => {
                    if (confirm(`Delete route ${route.name}? Nodes naming it will fail.`)) remove.mutate(route.name);
                  }}
                >
                  Delete
                </Button>
              </td>
            </tr>
          ))}
        </Table>
      ) : null}
      {editing ? <RouteDialog route={editing === "new" ? null : editing} others={(routes.data?.items ?? []).map((r) => r.name)} onClose={() => setEditing(null)} /> : null}
    </div>
  );
}

const TOP_FIELDS = ["name", "deployments", "strategy", "fallbacks", "context_window_fallbacks", "content_policy_fallbacks", "allowed_fails", "cooldown_seconds", "timeout_seconds", "cache_seconds"];

function RouteDialog({ route, others, onClose }: { route: RouteRead | null; others: string[]; onClose: () => void }) {
  const queries = useQueryClient();
  const [draft, setDraft] = useState<RouteDraft>(() => {
    const start = routeDraft(route);
    return start.deployments.length ? start : { ...start, deployments: [emptyDeployment()] };
  });
  const save = useMutation({
    mutationFn: () =>
      route
        ? api.put<RouteRead>(`/v1/routes/${encodeURIComponent(route.name)}`, routeBody(draft, false))
        : api.post<RouteRead>("/v1/routes", routeBody(draft, true)),
    onSuccess: () => {
      void queries.invalidateQueries({ queryKey: ["routes"] });
      onClose();
    },
  });
  const issues = formIssues(save.error);
  const set = (change: Partial<RouteDraft>) => setDraft({ ...draft, ...change });
  const setDeployment = (index: number, change: Partial<DeploymentDraft>) =>
    set({ deployments: draft.deployments.map((deployment, at) => (at === index ? { ...deployment, ...change } : deployment)) });
  const fallbackHint = others.filter((name) => name !== draft.name).join(", ");
  const top = unclaimedMessages(issues, TOP_FIELDS);
  return (
    <Dialog title={route ? `Edit route ${route.name}` : "New route"} onClose={onClose} wide>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          save.mutate();
        }}
      >
        {route ? null : (
          <TextField label="Name" value={draft.name} onChange={(name) => set({ name })} required hint={'What llm nodes name: {"route": "<name>"}'} error={messageAt(issues, "name")} />
        )}
        {draft.deployments.map((deployment, index) => (
          <DeploymentFields
            key={index}
            index={index}
            deployment={deployment}
            issues={issues}
            onChange={(change) => setDeployment(index, change)}
            onRemove={draft.deployments.length > 1 ? () => set({ deployments: draft.deployments.filter((_, at) => at !== index) }) : undefined}
          />
        ))}
        <Button small className="mb-3" onClick={() => set({ deployments: [...draft.deployments, emptyDeployment()] })}>
          Add a deployment
        </Button>
        {messageAt(issues, "deployments") && !issues.some((issue) => issue.field.startsWith("deployments[")) ? (
          <p className="mb-3 text-xs text-red-700">{messageAt(issues, "deployments")}</p>
        ) : null}
        <div className="grid gap-x-3 sm:grid-cols-2">
          <SelectField label="Routing strategy" value={draft.strategy} onChange={(strategy) => set({ strategy: strategy as RouteDraft["strategy"] })} options={STRATEGIES} error={messageAt(issues, "strategy")} />
          <TextField label="Fallbacks (in order)" value={draft.fallbacks} onChange={(fallbacks) => set({ fallbacks })} hint={fallbackHint ? `Comma-separated; your routes: ${fallbackHint}` : "Comma-separated route names"} error={messageAt(issues, "fallbacks")} />
          <TextField label="Context-window fallbacks" value={draft.context_window_fallbacks} onChange={(value) => set({ context_window_fallbacks: value })} error={messageAt(issues, "context_window_fallbacks")} />
          <TextField label="Content-policy fallbacks" value={draft.content_policy_fallbacks} onChange={(value) => set({ content_policy_fallbacks: value })} error={messageAt(issues, "content_policy_fallbacks")} />
          <TextField label="Allowed failures per minute" inputMode="numeric" value={draft.allowed_fails} onChange={(value) => set({ allowed_fails: value })} hint="Before a deployment cools down" error={messageAt(issues, "allowed_fails")} />
          <TextField label="Cooldown (seconds)" inputMode="decimal" value={draft.cooldown_seconds} onChange={(value) => set({ cooldown_seconds: value })} error={messageAt(issues, "cooldown_seconds")} />
          <TextField label="Timeout per call (seconds)" inputMode="decimal" value={draft.timeout_seconds} onChange={(value) => set({ timeout_seconds: value })} error={messageAt(issues, "timeout_seconds")} />
          <TextField label="Response cache (seconds)" inputMode="numeric" value={draft.cache_seconds} onChange={(value) => set({ cache_seconds: value })} hint="Off when empty" error={messageAt(issues, "cache_seconds")} />
        </div>
        {top.length ? <ErrorBox error={new Error(top.join("; "))} /> : null}
        <div className="mt-3 flex justify-end gap-2">
          <Button onClick={onClose}>Cancel</Button>
          <Button tone="primary" type="submit" disabled={save.isPending || (!route && !draft.name.trim())}>
            Save route
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

function DeploymentFields({
  index,
  deployment,
  issues,
  onChange,
  onRemove,
}: {
  index: number;
  deployment: DeploymentDraft;
  issues: Issue[];
  onChange: (change: Partial<DeploymentDraft>) => void;
  onRemove?: () => void;
}) {
  // People who may list secrets choose one; others type the name (the API checks it).
  const canList = useCan("secrets:manage");
  const secrets = useSecretNames();
  const at = `deployments[${index}]`;
  const whole = issues.filter((issue) => issue.field === at);
  const n = index + 1;
  const secretNames = secrets.data ?? [];
  const secretMessage = messageAt(issues, `${at}.api_key_secret`);
  return (
    <fieldset className="mb-3 rounded-lg border border-slate-200 p-3" data-deployment={index}>
      <legend className="px-1 text-sm font-semibold text-slate-800">Deployment {n}</legend>
      <div className="grid gap-x-3 sm:grid-cols-2">
        <TextField label={`Model (deployment ${n})`} value={deployment.model} onChange={(model) => onChange({ model })} required placeholder="openai/gpt-4o-mini" hint="provider/model, as LiteLLM names it" error={messageAt(issues, `${at}.model`)} />
        <TextField label={`API base (deployment ${n})`} value={deployment.api_base} onChange={(api_base) => onChange({ api_base })} inputMode="url" placeholder="https://api.openai.com/v1" error={messageAt(issues, `${at}.api_base`)} />
        {canList ? (
          <SelectField
            label={`API key secret (deployment ${n})`}
            value={deployment.api_key_secret}
            onChange={(api_key_secret) => onChange({ api_key_secret })}
            options={[
              { value: "", label: "No key" },
              ...[...new Set([...secretNames, ...(deployment.api_key_secret ? [deployment.api_key_secret] : [])])].map((name) => ({ value: name, label: name })),
            ]}
            hint={secretNames.length ? "A tenant secret bound to the API base's host" : "No secrets yet: add one under Secrets"}
            error={secretMessage}
          />
        ) : (
          <TextField label={`API key secret (deployment ${n})`} value={deployment.api_key_secret} onChange={(api_key_secret) => onChange({ api_key_secret })} hint="The name of a tenant secret" error={secretMessage} />
        )}
        <TextField label={`Weight (deployment ${n})`} inputMode="numeric" value={deployment.weight} onChange={(weight) => onChange({ weight })} error={messageAt(issues, `${at}.weight`)} />
        <TextField label={`Requests per minute (deployment ${n})`} inputMode="numeric" value={deployment.rpm} onChange={(rpm) => onChange({ rpm })} error={messageAt(issues, `${at}.rpm`)} />
        <TextField label={`Tokens per minute (deployment ${n})`} inputMode="numeric" value={deployment.tpm} onChange={(tpm) => onChange({ tpm })} error={messageAt(issues, `${at}.tpm`)} />
        <TextField label={`USD per prompt token (deployment ${n})`} inputMode="decimal" value={deployment.input_cost_per_token} onChange={(value) => onChange({ input_cost_per_token: value })} placeholder="LiteLLM's price" error={messageAt(issues, `${at}.input_cost_per_token`)} />
        <TextField label={`USD per completion token (deployment ${n})`} inputMode="decimal" value={deployment.output_cost_per_token} onChange={(value) => onChange({ output_cost_per_token: value })} placeholder="LiteLLM's price" error={messageAt(issues, `${at}.output_cost_per_token`)} />
        <TextField label={`Max output tokens (deployment ${n})`} inputMode="numeric" value={deployment.max_output_tokens} onChange={(value) => onChange({ max_output_tokens: value })} hint="Worst case reserved against budgets" error={messageAt(issues, `${at}.max_output_tokens`)} />
      </div>
      {whole.length ? <p className="text-xs text-red-700">{whole.map((issue) => issue.message).join("; ")}</p> : null}
      {onRemove ? (
        <Button small tone="ghost" className="text-red-700" onClick={onRemove}>
          Remove deployment {n}
        </Button>
      ) : null}
    </fieldset>
  );
}
