/** The AI gateway's forms and figures: a route as the form edits it (strings, as typed) ↔
 * the API's `RouteConfig`, dollars as the API writes them, and spend rows as a table. */
import type { Deployment, RouteConfig, RouteRead, SpendDimension, SpendRow, Strategy } from "../api/types";

export interface DeploymentDraft {
  model: string;
  api_base: string;
  api_key_secret: string;
  weight: string;
  rpm: string;
  tpm: string;
  input_cost_per_token: string;
  output_cost_per_token: string;
  max_output_tokens: string;
}

export interface RouteDraft {
  name: string;
  deployments: DeploymentDraft[];
  strategy: Strategy;
  fallbacks: string;
  context_window_fallbacks: string;
  content_policy_fallbacks: string;
  allowed_fails: string;
  cooldown_seconds: string;
  timeout_seconds: string;
  cache_seconds: string;
}

export const STRATEGIES: { value: Strategy; label: string }[] = [
  { value: "simple-shuffle", label: "Weighted shuffle" },
  { value: "least-busy", label: "Least busy" },
  { value: "latency-based-routing", label: "Lowest latency" },
  { value: "cost-based-routing", label: "Lowest cost" },
];

const text = (value: number | string | null | undefined): string => (value == null ? "" : String(value));

export function emptyDeployment(): DeploymentDraft {
  return {
    model: "",
    api_base: "",
    api_key_secret: "",
    weight: "1",
    rpm: "",
    tpm: "",
    input_cost_per_token: "",
    output_cost_per_token: "",
    max_output_tokens: "",
  };
}

export function routeDraft(route: RouteRead | null): RouteDraft {
  const config: Partial<RouteConfig> = route?.config ?? {};
  return {
    name: route?.name ?? "",
    deployments: (config.deployments ?? []).map((deployment) => ({
      model: deployment.model,
      api_base: text(deployment.api_base),
      api_key_secret: text(deployment.api_key_secret),
      weight: text(deployment.weight ?? 1),
      rpm: text(deployment.rpm),
      tpm: text(deployment.tpm),
      input_cost_per_token: text(deployment.input_cost_per_token),
      output_cost_per_token: text(deployment.output_cost_per_token),
      max_output_tokens: text(deployment.max_output_tokens),
    })),
    strategy: config.strategy ?? "simple-shuffle",
    fallbacks: (config.fallbacks ?? []).join(", "),
    context_window_fallbacks: (config.context_window_fallbacks ?? []).join(", "),
    content_policy_fallbacks: (config.content_policy_fallbacks ?? []).join(", "),
    allowed_fails: text(config.allowed_fails),
    cooldown_seconds: text(config.cooldown_seconds),
    timeout_seconds: text(config.timeout_seconds),
    cache_seconds: text(config.cache_seconds),
  };
}

/** A typed number, or what was typed when it is not one: the API then names the field
 * ("deployments[0].rpm: Input should be a valid integer") instead of the form guessing. */
function numberOrRaw(value: string): number | string | undefined {
  const trimmed = value.trim();
  if (!trimmed) return undefined;
  const parsed = Number(trimmed);
  return Number.isFinite(parsed) ? parsed : trimmed;
}

function names(value: string): string[] {
  return value
    .split(/[,\s]+/)
    .map((name) => name.trim())
    .filter(Boolean);
}

function compact<T extends object>(body: T): T {
  return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined && value !== "")) as T;
}

/** The body of `POST /v1/routes` (with the name) or `PUT /v1/routes/{name}` (without). */
export function routeBody(draft: RouteDraft, withName: boolean): Record<string, unknown> {
  const deployments = draft.deployments.map((deployment) =>
    compact({
      model: deployment.model.trim(),
      api_base: deployment.api_base.trim() || undefined,
      api_key_secret: deployment.api_key_secret || undefined,
      weight: numberOrRaw(deployment.weight),
      rpm: numberOrRaw(deployment.rpm),
      tpm: numberOrRaw(deployment.tpm),
      input_cost_per_token: numberOrRaw(deployment.input_cost_per_token),
      output_cost_per_token: numberOrRaw(deployment.output_cost_per_token),
      max_output_tokens: numberOrRaw(deployment.max_output_tokens),
    }) as Partial<Deployment>,
  );
  return compact({
    ...(withName ? { name: draft.name.trim() } : {}),
    deployments,
    strategy: draft.strategy,
    fallbacks: names(draft.fallbacks),
    context_window_fallbacks: names(draft.context_window_fallbacks),
    content_policy_fallbacks: names(draft.content_policy_fallbacks),
    allowed_fails: numberOrRaw(draft.allowed_fails),
    cooldown_seconds: numberOrRaw(draft.cooldown_seconds),
    timeout_seconds: numberOrRaw(draft.timeout_seconds),
    cache_seconds: numberOrRaw(draft.cache_seconds),
  });
}

/** Dollars as the API writes them ("0.0000125"), for people: cents above a cent, else enough
 * significant digits that a tiny cost is not shown as $0.00. */
export function formatUsd(amount: string | number | null | undefined): string {
  if (amount == null || amount === "") return "—";
  const value = Number(amount);
  if (!Number.isFinite(value)) return String(amount);
  if (value === 0) return "$0";
  if (Math.abs(value) >= 0.01) return `$${value.toFixed(2)}`;
  return `$${value.toPrecision(2)}`;
}

export const DIMENSIONS: { value: SpendDimension; label: string }[] = [
  { value: "graph", label: "Graph" },
  { value: "node", label: "Node" },
  { value: "route", label: "Route" },
  { value: "model", label: "Model" },
  { value: "day", label: "Day" },
];

/** The query string of `GET /v1/spend`: one `group_by` per dimension, the UTC day range. */
export function spendQuery(groupBy: SpendDimension[], since: string, until: string): string {
  const params = new URLSearchParams();
  for (const dimension of groupBy) params.append("group_by", dimension);
  if (since) params.set("since", since);
  if (until) params.set("until", until);
  return params.toString();
}

/** Each row's cost as a share of the largest, for its bar; rows with no cost get 0. */
export function shares(rows: SpendRow[]): number[] {
  const costs = rows.map((row) => Number(row.cost_usd) || 0);
  const top = Math.max(0, ...costs);
  return costs.map((cost) => (top > 0 ? cost / top : 0));
}

/** A UTC day `days` before `today` as yyyy-mm-dd (the date inputs' and the API's format). */
export function dayBefore(today: Date, days: number): string {
  const day = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - days));
  return day.toISOString().slice(0, 10);
}
