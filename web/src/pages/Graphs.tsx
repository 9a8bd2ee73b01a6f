import { useDeferredValue, useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router-dom";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../api/client";
import { useCan } from "../api/hooks";
import type { GraphRead } from "../api/types";
import type { GraphDefinition } from "../lib/graph";
import { Button, Dialog, Empty, ErrorBox, PageHeader, Spinner, Table, TextField, formatTime } from "../components/ui";

export function GraphsPage() {
  const [search, setSearch] = useState("");
  const query = useDeferredValue(search.trim());
  const [creating, setCreating] = useState(false);
  const [renaming, setRenaming] = useState<GraphRead | null>(null);
  const [deleting, setDeleting] = useState<GraphRead | null>(null);
  const canWrite = useCan("graphs:write");
  const graphs = useQuery({
    queryKey: ["graphs", query],
    queryFn: () => api.get<GraphRead[]>(`/v1/graphs?limit=200${query ? `&name=${encodeURIComponent(query)}` : ""}`),
  });
  return (
    <div className="mx-auto max-w-6xl p-4 sm:p-6">
      <PageHeader title="Graphs" subtitle="Workflows you draw; every save is a new immutable version.">
        <Link to="/templates" className="rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-800 hover:bg-slate-50">
          From a template
        </Link>
        {canWrite ? (
          <Button tone="primary" onClick={() => setCreating(true)}>
            New graph
          </Button>
        ) : null}
      </PageHeader>
      <div className="mb-3 max-w-sm">
        <label htmlFor="graph-search" className="sr-only">
          Search graphs
        </label>
        <input
          id="graph-search"
          type="search"
          placeholder="Search by name"
          value={search}
          onChange={(event) => setSearch(event.target.value)}
          className="w-full rounded-md border border-slate-300 px-3 py-1.5 text-sm"
        />
      </div>
      <ErrorBox error={graphs.error} />
      {graphs.isPending ? (
        <Spinner />
      ) : graphs.data && graphs.data.length === 0 ? (
        <Empty>{query ? `No graph named like “${query}”.` : "No graphs yet. Create one, or start from a template."}</Empty>
      ) : (
        <Table label="Graphs" head={["Name", "Version", "Updated", "By", ""]}>
          {graphs.data?.map((graph) => (
            <tr key={graph.id} className="hover:bg-slate-50">
              <td className="px-3 py-2">
                <Link to={`/graphs/${graph.id}`} className="font-medium text-indigo-700 hover:underline">
                  {graph.name}
                </Link>
                {graph.description ? <div className="text-xs text-slate-600">{graph.description}</div> : null}
              </td>
              <td className="px-3 py-2 text-slate-700">v{graph.version}</td>
              <td className="px-3 py-2 text-slate-700">{formatTime(graph.updated_at)}</td>
              <td className="px-3 py-2 text-slate-700">{graph.created_by ?? "—"}</td>
              <td className="px-3 py-2 text-right whitespace-nowrap">
                <Link to={`/runs?graph_id=${graph.id}`} className="mr-2 text-sm text-indigo-700 hover:underline">
                  Runs
                </Link>
                {canWrite ? (
                  <>
                    <Button small tone="ghost" onClick={() => setRenaming(graph)} aria-label={`Rename ${graph.name}`}>
                      Rename
                    </Button>
                    <Button small tone="ghost" className="text-red-700" onClick={() => setDeleting(graph)} aria-label={`Delete ${graph.name}`}>
                      Delete
                    </Button>
                  </>
                ) : null}
              </td>
            </tr>
          ))}
        </Table>
      )}
      {creating ? <CreateGraph onClose={() => setCreating(false)} /> : null}
      {renaming ? <RenameGraph graph={renaming} onClose={() => setRenaming(null)} /> : null}
      {deleting ? <DeleteGraph graph={deleting} onClose={() => setDeleting(null)} /> : null}
    </div>
  );
}

function CreateGraph({ onClose }: { onClose: () => void }) {
  const [name, setName] = useState("");
  const navigate = useNavigate();
  const create = useMutation({
    mutationFn: () => api.post<GraphRead>("/v1/graphs", { name: name.trim(), nodes: [], edges: [] }),
    onSuccess: (graph) => navigate(`/graphs/${graph.id}`),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };
  return (
    <Dialog title="New graph" onClose={onClose}>
      <form onSubmit={submit}>
        <TextField label="Name" value={name} onChange={setName} required placeholder="triage-ticket" />
        <ErrorBox error={create.error} />
        <div className="mt-3 flex justify-end gap-2">
          <Button onClick={onClose}>Cancel</Button>
          <Button tone="primary" type="submit" disabled={!name.trim() || create.isPending}>
            Create and open
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

function RenameGraph({ graph, onClose }: { graph: GraphRead; onClose: () => void }) {
  const [name, setName] = useState(graph.name);
  const queries = useQueryClient();
  const rename = useMutation({
    mutationFn: async () => {
      const current = await api.get<GraphRead>(`/v1/graphs/${graph.id}`);
      const definition = { ...(current.definition as unknown as GraphDefinition), name: name.trim() };
      return api.put<GraphRead>(`/v1/graphs/${graph.id}`, definition);
    },
    onSuccess: () => {
      void queries.invalidateQueries({ queryKey: ["graphs"] });
      void queries.invalidateQueries({ queryKey: ["graph", graph.id] });
      onClose();
    },
  });
  return (
    <Dialog title={`Rename ${graph.name}`} onClose={onClose}>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          rename.mutate();
        }}
      >
        <TextField label="Name" value={name} onChange={setName} required hint="Renaming saves a new version." />
        <ErrorBox error={rename.error} />
        <div className="mt-3 flex justify-end gap-2">
          <Button onClick={onClose}>Cancel</Button>
          <Button tone="primary" type="submit" disabled={!name.trim() || rename.isPending}>
            Rename
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

function DeleteGraph({ graph, onClose }: { graph: GraphRead; onClose: () => void }) {
  const queries = useQueryClient();
  const remove = useMutation({
    mutationFn: () => api.delete(`/v1/graphs/${graph.id}`),
    onSuccess: () => {
      void queries.invalidateQueries({ queryKey: ["graphs"] });
      onClose();
    },
  });
  return (
    <Dialog title={`Delete ${graph.name}?`} onClose={onClose}>
      <p className="text-sm text-slate-700">The graph leaves the list. Runs already started keep running on their own version.</p>
      <ErrorBox error={remove.error} />
      <div className="mt-4 flex justify-end gap-2">
        <Button onClick={onClose}>Cancel</Button>
        <Button tone="danger" onClick={() => remove.mutate()} disabled={remove.isPending}>
          Delete
        </Button>
      </div>
    </Dialog>
  );
}
