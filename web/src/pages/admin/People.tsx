import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/client";
import type { InvitationCreated, RoleList, RoleRead, UserRead } from "../../api/types";
import { Button, Copyable, Dialog, ErrorBox, PageHeader, Spinner, Table, TextField, formatTime } from "../../components/ui";

function useRoles() {
  return useQuery({ queryKey: ["roles"], queryFn: () => api.get<RoleList>("/v1/roles") });
}

function RolePicker({ roles, value, onChange, label }: { roles: RoleRead[]; value: string[]; onChange: (roles: string[]) => void; label: string }) {
  return (
    <fieldset className="mb-3">
      <legend className="mb-1 text-sm font-medium text-slate-800">{label}</legend>
      <div className="grid grid-cols-2 gap-1">
        {roles.map((role) => (
          <label key={role.id} className="flex items-center gap-1.5 text-sm text-slate-800" title={role.description}>
            <input type="checkbox" checked={value.includes(role.name)} onChange={(event) => onChange(event.target.checked ? [...value, role.name] : value.filter((r) => r !== role.name))} />
            {role.name}
          </label>
        ))}
      </div>
    </fieldset>
  );
}

export function UsersPage() {
  const queries = useQueryClient();
  const users = useQuery({ queryKey: ["users"], queryFn: () => api.get<{ items: UserRead[] }>("/v1/users") });
  const roles = useRoles();
  const [adding, setAdding] = useState(false);
  const [editing, setEditing] = useState<UserRead | null>(null);
  const update = useMutation({
    mutationFn: ({ id, body }: { id: string; body: Record<string, unknown> }) => api.patch<UserRead>(`/v1/users/${id}`, body),
    onSuccess: () => {
      void queries.invalidateQueries({ queryKey: ["users"] });
      setEditing(null);
    },
  });
  return (
    <div>
      <PageHeader title="Users" subtitle="Members of this tenant and their roles.">
        <Button tone="primary" onClick={() => setAdding(true)}>
          Add a person
        </Button>
      </PageHeader>
      <ErrorBox error={users.error ?? update.error} />
      {users.isPending ? <Spinner /> : null}
      {users.data ? (
        <Table label="Users" head={["Email", "Name", "Roles", "Active", "Joined", ""]}>
          {users.data.items.map((user) => (
            <tr key={user.id}>
              <td className="px-3 py-2">{user.email}</td>
              <td className="px-3 py-2">{user.name || "—"}</td>
              <td className="px-3 py-2">{user.roles.join(", ")}</td>
              <td className="px-3 py-2">{user.is_active ? "yes" : "no"}</td>
              <td className="px-3 py-2 text-slate-700">{formatTime(user.joined_at)}</td>
              <td className="px-3 py-2 text-right whitespace-nowrap">
                <Button small tone="ghost" onClick={() => setEditing(user)} aria-label={`Edit roles of ${user.email}`}>
                  Roles
                </Button>
                <Button small tone="ghost" onClick={() => update.mutate({ id: user.id, body: { is_active: !user.is_active } })}>
                  {user.is_active ? "Deactivate" : "Reactivate"}
                </Button>
              </td>
            </tr>
          ))}
        </Table>
      ) : null}
      {adding && roles.data ? <AddUser roles={roles.data.items} onClose={() => setAdding(false)} /> : null}
      {editing && roles.data ? (
        <EditRoles user={editing} roles={roles.data.items} busy={update.isPending} error={update.error} onSave={(next) => update.mutate({ id: editing.id, body: { roles: next } })} onClose={() => setEditing(null)} />
      ) : null}
    </div>
  );
}

function EditRoles({ user, roles, onSave, onClose, busy, error }: { user: UserRead; roles: RoleRead[]; onSave: (roles: string[]) => void; onClose: () => void; busy: boolean; error: unknown }) {
  const [value, setValue] = useState(user.roles);
  return (
    <Dialog title={`Roles of ${user.email}`} onClose={onClose}>
      <RolePicker roles={roles} value={value} onChange={setValue} label="Roles" />
      <ErrorBox error={error} />
      <div className="mt-3 flex justify-end gap-2">
        <Button onClick={onClose}>Cancel</Button>
        <Button tone="primary" disabled={busy || value.length === 0} onClick={() => onSave(value)}>
          Save
        </Button>
      </div>
    </Dialog>
  );
}

function AddUser({ roles, onClose }: { roles: RoleRead[]; onClose: () => void }) {
  const queries = useQueryClient();
  const [email, setEmail] = useState("");
  const [picked, setPicked] = useState<string[]>(["viewer"]);
  const invite = useMutation({
    mutationFn: () => api.post<InvitationCreated>("/v1/invitations", { email: email.trim(), roles: picked }),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ["users"] }),
  });
  return (
    <Dialog title="Invite a person" onClose={onClose}>
      {invite.data ? (
        <div>
          <p className="mb-3 text-sm text-slate-800">
            Invitation for {invite.data.email} created. Send the person this link (only to them): they accept it signed in as that address, or create their
            account with it if they have none. It works once, until {new Date(invite.data.expires_at).toLocaleString()}.
          </p>
          <Copyable label="Invitation link (shown once)" value={`${location.origin}/join?token=${encodeURIComponent(invite.data.token)}`} />
          <Button tone="primary" onClick={onClose}>
            Done
          </Button>
        </div>
      ) : (
        <form
          onSubmit={(event) => {
            event.preventDefault();
            invite.mutate();
          }}
        >
          <TextField label="Email" type="email" value={email} onChange={setEmail} required />
          <RolePicker roles={roles} value={picked} onChange={setPicked} label="Roles" />
          <ErrorBox error={invite.error} />
          <div className="mt-3 flex justify-end gap-2">
            <Button onClick={onClose}>Cancel</Button>
            <Button tone="primary" type="submit" disabled={invite.isPending || !email.trim() || picked.length === 0}>
              Invite
            </Button>
          </div>
        </form>
      )}
    </Dialog>
  );
}

export function RolesPage() {
  const queries = useQueryClient();
  const roles = useRoles();
  const [editing, setEditing] = useState<RoleRead | "new" | null>(null);
  const remove = useMutation({
    mutationFn: (id: string) => api.delete(`/v1/roles/${id}`),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ["roles"] }),
  });
  return (
    <div>
      <PageHeader title="Roles" subtitle="Sets of permissions: built-in ones and your own.">
        <Button tone="primary" onClick={() => setEditing("new")}>
          New role
        </Button>
      </PageHeader>
      <ErrorBox error={roles.error ?? remove.error} />
      {roles.data ? (
        <Table label="Roles" head={["Role", "Permissions", ""]}>
          {roles.data.items.map((role) => (
            <tr key={role.id}>
              <td className="px-3 py-2 align-top">
                <div className="font-medium">{role.name}</div>
                <div className="text-xs text-slate-600">{role.builtin ? "built-in" : role.description}</div>
              </td>
              <td className="px-3 py-2 text-xs text-slate-700">{role.permissions.join(", ")}</td>
              <td className="px-3 py-2 text-right whitespace-nowrap">
                {!role.builtin ? (
                  <>
                    <Button small tone="ghost" onClick={() => setEditing(role)}>
                      Edit
                    </Button>
                    <Button small tone="ghost" className="text-red-700" onClick={() => remove.mutate(role.id)}>
                      Delete
                    </Button>
                  </>
                ) : null}
              </td>
            </tr>
          ))}
        </Table>
      ) : (
        <Spinner />
      )}
      {editing && roles.data ? <RoleDialog role={editing === "new" ? null : editing} permissions={roles.data.permissions} onClose={() => setEditing(null)} /> : null}
    </div>
  );
}

function RoleDialog({ role, permissions, onClose }: { role: RoleRead | null; permissions: string[]; onClose: () => void }) {
  const queries = useQueryClient();
  const [name, setName] = useState(role?.name ?? "");
  const [description, setDescription] = useState(role?.description ?? "");
  const [picked, setPicked] = useState<string[]>(role?.permissions ?? []);
  const save = useMutation({
    mutationFn: () =>
      role ? api.patch(`/v1/roles/${role.id}`, { description, permissions: picked }) : api.post("/v1/roles", { name: name.trim(), description, permissions: picked }),
    onSuccess: () => {
      void queries.invalidateQueries({ queryKey: ["roles"] });
      onClose();
    },
  });
  return (
    <Dialog title={role ? `Edit ${role.name}` : "New role"} onClose={onClose}>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          save.mutate();
        }}
      >
        {!role ? <TextField label="Name" value={name} onChange={setName} required hint="lowercase letters, digits, - and _" /> : null}
        <TextField label="Description" value={description} onChange={setDescription} />
        <fieldset className="mb-3">
          <legend className="mb-1 text-sm font-medium">Permissions</legend>
          <div className="grid grid-cols-2 gap-1">
            {permissions.map((permission) => (
              <label key={permission} className="flex items-center gap-1.5 text-sm">
                <input type="checkbox" checked={picked.includes(permission)} onChange={(event) => setPicked(event.target.checked ? [...picked, permission] : picked.filter((p) => p !== permission))} />
                {permission}
              </label>
            ))}
          </div>
        </fieldset>
        <ErrorBox error={save.error} />
        <div className="mt-3 flex justify-end gap-2">
          <Button onClick={onClose}>Cancel</Button>
          <Button tone="primary" type="submit" disabled={save.isPending}>
            Save
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
