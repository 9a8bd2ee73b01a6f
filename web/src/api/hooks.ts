import { useQuery } from "@tanstack/react-query";
import { ApiError, api } from "./client";
import type { ExpressionVocabulary, GraphRead, MeRead, SecretRead } from "./types";
import type { JsonSchema } from "../lib/graph";

export type NodeKinds = Record<string, JsonSchema>;

export function useMe() {
  return useQuery({ queryKey: ["me"], queryFn: () => api.get<MeRead>("/v1/me"), staleTime: 60_000 });
}

export function useCan(permission: string): boolean {
  const me = useMe();
  return me.data?.permissions.includes(permission) ?? false;
}

export function useNodeKinds() {
  return useQuery({ queryKey: ["node-kinds"], queryFn: () => api.get<NodeKinds>("/v1/node-kinds"), staleTime: Infinity });
}

export function useVocabulary() {
  return useQuery({
    queryKey: ["vocabulary"],
    queryFn: () => api.get<ExpressionVocabulary>("/v1/schema/expressions"),
    staleTime: Infinity,
  });
}

/** Secret names for completion; people without `secrets:manage` simply get none. */
export function useSecretNames() {
  const allowed = useCan("secrets:manage");
  return useQuery({
    queryKey: ["secrets"],
    enabled: allowed,
    queryFn: async () => {
      try {
        return (await api.get<{ items: SecretRead[] }>("/v1/secrets")).items;
      } catch (error) {
        if (error instanceof ApiError && error.status === 403) return [];
        throw error;
      }
    },
    select: (items: SecretRead[]) => items.map((item) => item.name),
  });
}

/** The tenant's graphs by id, to name a graph where the API gives its id (budgets, spend);
 * people without `graphs:read` see ids. */
export function useGraphNames() {
  const allowed = useCan("graphs:read");
  return useQuery({
    queryKey: ["graphs", { names: true }], // under "graphs": refreshed when a graph changes; never a search's key
    enabled: allowed,
    queryFn: () => api.get<GraphRead[]>("/v1/graphs?limit=200"),
    select: (graphs: GraphRead[]) => new Map(graphs.map((graph) => [graph.id, graph.name])),
  });
}
