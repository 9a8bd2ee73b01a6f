/** /join?token=… — accepting an invitation: signed in as the invited address, or by
 * creating an account with the token when the person has none. */
import { useState, useSyncExternalStore, type FormEvent } from "react";
import { Link, useNavigate, useSearchParams } from "react-router-dom";
import { useMutation } from "@tanstack/react-query";
import { api, login, session } from "../api/client";
import { useMe } from "../api/hooks";
import type { InvitationAccepted } from "../api/types";
import { Button, ErrorBox, TextField } from "../components/ui";

function SignedInAccept({ token }: { token: string }) {
  const me = useMe();
  const accept = useMutation({ mutationFn: () => api.post<InvitationAccepted>("/v1/invitations/accept", { token }) });
  if (accept.data) return <Joined accepted={accept.data} />;
  return (
    <div>
      <p className="mb-3 text-sm text-slate-800">
        You are signed in as <strong>{me.data?.name ?? "…"}</strong>. The invitation must be for your address.
      </p>
      <ErrorBox error={accept.error} />
      <Button tone="primary" disabled={accept.isPending} onClick={() => accept.mutate()}>
        Accept the invitation
      </Button>
    </div>
  );
}

function NewAccount({ token }: { token: string }) {
  const navigate = useNavigate();
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const create = useMutation({
    mutationFn: async () => {
      const accepted = await api.post<InvitationAccepted>("/v1/invitations/accept-new", { token, name: name.trim(), password }, { anonymous: true });
      await login(accepted.email, password);
      return accepted;
    },
    onSuccess: () => navigate("/graphs", { replace: true }),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };
  return (
    <form onSubmit={submit} aria-label="Create your account">
      <p className="mb-3 text-sm text-slate-800">New to Auterity? Create your account with this invitation.</p>
      <TextField label="Your name" value={name} onChange={setName} autoComplete="name" />
      <TextField label="Password" type="password" value={password} onChange={setPassword} required autoComplete="new-password" />
      <ErrorBox error={create.error} />
      <Button tone="primary" type="submit" disabled={create.isPending || !password}>
        Create my account and join
      </Button>
    </form>
  );
}

function Joined({ accepted }: { accepted: InvitationAccepted }) {
  return (
    <div role="status">
      <p className="mb-3 text-sm text-slate-800">
        You joined <strong>{accepted.tenant}</strong> as {accepted.roles.join(", ")}.
      </p>
      <p className="text-sm text-slate-700">
        Sign out and sign in again to work in it: <Link className="text-indigo-700 underline" to="/graphs">back to the builder</Link>.
      </p>
    </div>
  );
}

export function JoinPage() {
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const signedIn = useSyncExternalStore(session.subscribe, session.signedIn);
  const here = `/join?token=${encodeURIComponent(token)}`;
  return (
    <main className="min-h-full bg-slate-100 p-3 sm:p-8">
      <div className="mx-auto max-w-md rounded-xl bg-white p-5 shadow-sm">
        <h1 className="mb-4 flex items-center gap-2 text-lg font-semibold">
          <img src="/favicon.svg" alt="" className="h-6 w-6" /> You are invited to Auterity
        </h1>
        {token.length < 20 ? (
          <ErrorBox error={new Error("This link is incomplete: it has no invitation token. Open the whole link you were sent.")} />
        ) : signedIn ? (
          <SignedInAccept token={token} />
        ) : (
          <>
            <p className="mb-4 text-sm text-slate-700">
              Already have an account? <Link className="text-indigo-700 underline" to={`/login?next=${encodeURIComponent(here)}`}>Sign in first</Link>, then accept.
            </p>
            <NewAccount token={token} />
          </>
        )}
      </div>
    </main>
  );
}
