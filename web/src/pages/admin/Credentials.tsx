import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/client";
import { useMe } from "../../api/hooks";
import type { ApiKeyCreated, ApiKeyRead, SecretRead } from "../../api/types";
import { Button, Copyable, Dialog, Empty, ErrorBox, PageHeader, Spinner, Table, TextField, formatTime } from "../../components/ui";

export function ApiKeysPage() {
  const queries = useQueryClient();
  const keys = useQuery({ queryKey: ["api-keys"], queryFn: () => api.get<{ items: ApiKeyRead[] }>("/v1/api-keys") });
  const [creating, setCreating] = useState(false);
  const revoke = useMutation({
    mutationFn: (id: string) => api.delete(`/v1/api-keys/${id}`),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ["api-keys"] }),
  });
  return (
    <div>
      <PageHeader title="API keys" subtitle="Machine credentials: Authorization: Bearer <key>. A key is shown once, when it is made.">
        <Button tone="primary" onClick={() => setCreating(true)}>
          New API key
        </Button>
      </PageHeader>
      <ErrorBox error={keys.error ?? revoke.error} />
      {keys.isPending ? <Spinner /> : null}
      {keys.data?.items.length === 0 ? <Empty>No API keys.</Empty> : null}
      {keys.data?.items.length ? (
        <Table label="API keys" head={["Name", "Prefix", "Scopes", "Last used", "Expires", ""]}>
          {keys.data.items.map((key) => (
            <tr key={key.id} className={key.revoked_at ? "text-slate-500" : ""}>
              <td className="px-3 py-2">{key.name}</td>
              <td className="px-3 py-2 font-mono text-xs">{key.prefix}…</td>
              <td className="px-3 py-2 text-xs">{key.scopes.join(", ")}</td>
              <td className="px-3 py-2 text-xs">{formatTime(key.last_used_at)}</td>
              <td className="px-3 py-2 text-xs">{key.expires_at ? formatTime(key.expires_at) : "never"}</td>
              <td className="px-3 py-2 text-right">
                {key.revoked_at ? (
                  <span className="text-xs text-slate-700">revoked</span>
                ) : (
                  <Button small tone="ghost" className="text-red-700" onClick={() => revoke.mutate(key.id)}>
                    Revoke
                  </Button>
                )}
              </td>
            </tr>
          ))}
        </Table>
      ) : null}
      {creating ? <NewKey onClose={() => setCreating(false)} /> : null}
    </div>
  );
}

function NewKey({ onClose }: { onClose: () => void }) {
  const me = useMe();
  const queries = useQueryClient();
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<string[]>(["graphs:read", "executions:read"]);
  const [expires, setExpires] = useState("");
  const create = useMutation({
    mutationFn: () =>
      api.post<ApiKeyCreated>("/v1/api-keys", { name: name.trim(), scopes, ...(expires ? { expires_at: new Date(expires).toISOString() } : {}) }),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ["api-keys"] }),
  });
  return (
    <Dialog title="New API key" onClose={onClose}>
      {create.data ? (
        <div>
          <Copyable label="The key (shown this once: copy it now)" value={create.data.key} />
          <Button tone="primary" onClick={onClose}>
            I have copied it
          </Button>
        </div>
      ) : (
        <form
          onSubmit={(event) => {
            event.preventDefault();
            create.mutate();
          }}
        >
          <TextField label="Name" value={name} onChange={setName} required placeholder="ci deploys" />
          <fieldset className="mb-3">
            <legend className="mb-1 text-sm font-medium">Scopes (only permissions you hold)</legend>
            <div className="grid grid-cols-2 gap-1">
              {(me.data?.permissions ?? []).map((permission) => (
                <label key={permission} className="flex items-center gap-1.5 text-sm">
                  <input type="checkbox" checked={scopes.includes(permission)} onChange={(event) => setScopes(event.target.checked ? [...scopes, permission] : scopes.filter((s) => s !== permission))} />
                  {permission}
                </label>
              ))}
            </div>
          </fieldset>
          <TextField label="Expires at (optional)" type="datetime-local" value={expires} onChange={setExpires} />
          <ErrorBox error={create.error} />
          <div className="mt-3 flex justify-end gap-2">
            <Button onClick={onClose}>Cancel</Button>
            <Button tone="primary" type="submit" disabled={create.isPending || !name.trim() || scopes.length === 0}>
              Create
            </Button>
          </div>
        </form>
      )}
    </Dialog>
  );
}

export function SecretsPage() {
  const queries = useQueryClient();
  const secrets = useQuery({ queryKey: ["secrets"], queryFn: () => api.get<{ items: SecretRead[] }>("/v1/secrets").then((page) => page.items) });
  const [editing, setEditing] = useState<SecretRead | "new" | null>(null);
  const remove = useMutation({
    mutationFn: (name: string) => api.delete(`/v1/secrets/${name}`),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ["secrets"] }),
  });
  return (
    <div>
      <PageHeader title="Secrets" subtitle="Credentials that http and llm nodes read as {{ secrets.NAME }}. Values go in and never come out.">
        <Button tone="primary" onClick={() => setEditing("new")}>
          New secret
        </Button>
      </PageHeader>
      <ErrorBox error={secrets.error ?? remove.error} />
      {secrets.isPending ? <Spinner /> : null}
      {secrets.data?.length === 0 ? <Empty>No secrets.</Empty> : null}
      {secrets.data?.length ? (
        <Table label="Secrets" head={["Name", "Description", "Version", "Updated", ""]}>
          {secrets.data.map((secret) => (
            <tr key={secret.id}>
              <td className="px-3 py-2 font-mono text-xs">{secret.name}</td>
              <td className="px-3 py-2">{secret.description || "—"}</td>
              <td className="px-3 py-2">{secret.version}</td>
              <td className="px-3 py-2 text-xs">{formatTime(secret.updated_at)}</td>
              <td className="px-3 py-2 text-right whitespace-nowrap">
                <Button small tone="ghost" onClick={() => setEditing(secret)}>
                  Replace value
                </Button>
                <Button small tone="ghost" className="text-red-700" onClick={() => remove.mutate(secret.name)}>
                  Delete
                </Button>
              </td>
            </tr>
          ))}
        </Table>
      ) : null}
      {editing ? <SecretDialog secret={editing === "new" ? null : editing} onClose={() => setEditing(null)} /> : null}
    </div>
  );
}

function SecretDialog({ secret, onClose }: { secret: SecretRead | null; onClose: () => void }) {
  const queries = useQueryClient();
  const [name, setName] = useState(secret?.name ?? "");
  const [value, setValue] = useState("");
  const [description, setDescription] = useState(secret?.description ?? "");
  const save = useMutation({
    mutationFn: () =>
      secret
        ? api.put(`/v1/secrets/${secret.name}`, { value, description: description || null })
        : api.post("/v1/secrets", { name: name.trim(), value, description: description || null }),
    onSuccess: () => {
      void queries.invalidateQueries({ queryKey: ["secrets"] });
      onClose();
    },
  });
  return (
    <Dialog title={secret ? `Replace ${secret.name}` : "New secret"} onClose={onClose}>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          save.mutate();
        }}
      >
        {!secret ? <TextField label="Name" value={name} onChange={setName} required hint="a letter or _ then letters, digits or _" /> : null}
        <TextField label="Value" type="password" value={value} onChange={setValue} required autoComplete="off" hint="Write-only: nobody can read it back." />
        <TextField label="Description" value={description} onChange={setDescription} />
        <ErrorBox error={save.error} />
        <div className="mt-3 flex justify-end gap-2">
          <Button onClick={onClose}>Cancel</Button>
          <Button tone="primary" type="submit" disabled={save.isPending || !value}>
            Save
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
