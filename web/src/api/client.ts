/** The one way the builder talks to the API: bearer tokens kept in memory only, refresh
 * rotation (one refresh at a time, so a refresh token is never presented twice), and
 * RFC 9457 problems turned into `ApiError`. */
import type { components } from "./schema";

export type Schemas = components["schemas"];

export interface ProblemItem {
  loc: (string | number)[];
  msg: string;
  node?: string | null;
  field?: string | null;
  position?: number | null;
}

export interface Problem {
  type?: string;
  title: string;
  status: number;
  detail: string;
  errors?: ProblemItem[];
}

export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.detail || problem.title);
    this.status = problem.status;
    this.problem = problem;
  }
}

type TokenPair = Schemas["TokenPair"];

let accessToken: string | null = null;
let refreshToken: string | null = null;
let expiresAt = 0;
let refreshing: Promise<boolean> | null = null;
const listeners = new Set<() => void>();
let onSignedOut: (() => void) | null = null;

function notify(): void {
  for (const listener of listeners) listener();
}

export const session = {
  signedIn(): boolean {
    return accessToken !== null;
  },
  subscribe(listener: () => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
  set(pair: TokenPair): void {
    accessToken = pair.access_token;
    refreshToken = pair.refresh_token;
    expiresAt = Date.now() + (pair.expires_in ?? 900) * 1000;
    notify();
  },
  clear(): void {
    accessToken = null;
    refreshToken = null;
    expiresAt = 0;
    notify();
  },
  /** Called when the session is gone (a 401 that a refresh could not cure). */
  onSignedOut(handler: () => void): void {
    onSignedOut = handler;
  },
};

async function refreshTokens(): Promise<boolean> {
  if (!refreshToken) return false;
  if (!refreshing) {
    const presented = refreshToken;
    refreshing = (async () => {
      try {
        const response = await fetch("/v1/auth/refresh", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ refresh_token: presented }),
        });
        if (!response.ok) return false;
        session.set((await response.json()) as TokenPair);
        return true;
      } catch {
        return false;
      } finally {
        refreshing = null;
      }
    })();
  }
  return refreshing;
}

/** A current access token, refreshed first when it is about to expire. */
export async function freshToken(): Promise<string | null> {
  if (accessToken && refreshToken && expiresAt - Date.now() < 30_000) await refreshTokens();
  return accessToken;
}

function signedOut(): void {
  const had = accessToken !== null || refreshToken !== null;
  session.clear();
  if (had || onSignedOut) onSignedOut?.();
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Return the Response itself (downloads). */
  raw?: boolean;
  /** Do not send the bearer token (public endpoints such as resume links). */
  anonymous?: boolean;
}

async function problemOf(response: Response): Promise<Problem> {
  const text = await response.text();
  try {
    const parsed = JSON.parse(text) as Partial<Problem> & { detail?: unknown };
    return {
      ...parsed,
      title: parsed.title ?? response.statusText,
      status: response.status,
      detail: typeof parsed.detail === "string" ? parsed.detail : text || response.statusText,
    };
  } catch {
    return { title: response.statusText || "Error", status: response.status, detail: text || `HTTP ${response.status}` };
  }
}

export async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const send = async (): Promise<Response> => {
    const headers: Record<string, string> = { accept: "application/json", ...options.headers };
    if (options.body !== undefined) headers["content-type"] = "application/json";
    if (!options.anonymous) {
      const token = await freshToken();
      if (token) headers.authorization = `Bearer ${token}`;
    }
    return fetch(path, {
      method: options.method ?? (options.body === undefined ? "GET" : "POST"),
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
  };
  let response: Response;
  try {
    response = await send();
  } catch {
    throw new ApiError({ title: "Network error", status: 0, detail: "the API cannot be reached" });
  }
  if (response.status === 401 && !options.anonymous && path !== "/v1/auth/login") {
    if (await refreshTokens()) response = await send();
    if (response.status === 401) {
      signedOut();
      throw new ApiError(await problemOf(response));
    }
  }
  if (!response.ok) throw new ApiError(await problemOf(response));
  if (options.raw) return response as T;
  if (response.status === 204) return undefined as T;
  const type = response.headers.get("content-type") ?? "";
  return (type.includes("json") ? await response.json() : await response.text()) as T;
}

export const api = {
  get: <T>(path: string, options?: RequestOptions) => request<T>(path, { ...options, method: "GET" }),
  post: <T>(path: string, body?: unknown, options?: RequestOptions) =>
    request<T>(path, { ...options, method: "POST", body: body ?? {} }),
  put: <T>(path: string, body: unknown) => request<T>(path, { method: "PUT", body }),
  patch: <T>(path: string, body: unknown) => request<T>(path, { method: "PATCH", body }),
  delete: <T = void>(path: string) => request<T>(path, { method: "DELETE" }),
};

export async function login(email: string, password: string): Promise<void> {
  const pair = await request<TokenPair>("/v1/auth/login", {
    method: "POST",
    body: { email, password },
    anonymous: true,
  });
  session.set(pair);
}

/** Single sign-on options for an email: the tenants that verified its domain (no account look-up). */
export async function discoverSso(email: string): Promise<Schemas["DiscoverRead"]> {
  return request<Schemas["DiscoverRead"]>("/v1/sso/discover", { method: "POST", body: { email }, anonymous: true });
}

/** Trade the one-time `sso_code` a finished SSO sign-in landed with for a session (same browser). */
export async function exchangeSsoCode(code: string): Promise<void> {
  const pair = await request<TokenPair>("/v1/sso/exchange", { method: "POST", body: { code }, anonymous: true });
  session.set(pair);
}

export async function logout(): Promise<void> {
  try {
    if (accessToken) await request("/v1/auth/logout", { method: "POST", body: {} });
  } finally {
    session.clear();
  }
}

/** The URL of a run's live events; browsers cannot set headers on a WebSocket. */
export async function eventsUrl(executionId: string): Promise<string> {
  const token = (await freshToken()) ?? "";
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const id = encodeURIComponent(executionId);
  return `${scheme}://${location.host}/v1/executions/${id}/events?access_token=${encodeURIComponent(token)}`;
}

export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.problem.detail || error.problem.title;
  if (error instanceof Error) return error.message;
  return String(error);
}
