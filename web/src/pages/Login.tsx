import { useState, type FormEvent } from "react";
import { useNavigate, useSearchParams } from "react-router-dom";
import { login } from "../api/client";
import { Button, ErrorBox, TextField } from "../components/ui";

/** Only paths of this site are followed after sign-in (no open redirect). */
function safeNext(next: string | null): string {
  return next && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/login") ? next : "/graphs";
}

export function LoginPage() {
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const next = safeNext(params.get("next"));

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(email.trim(), password);
      navigate(next, { replace: true });
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="flex min-h-full items-center justify-center bg-slate-100 p-4">
      <form onSubmit={submit} className="w-full max-w-sm rounded-xl bg-white p-6 shadow-sm" aria-labelledby="login-title">
        <div className="mb-5 flex items-center gap-2">
          <img src="/favicon.svg" alt="" className="h-8 w-8" />
          <h1 id="login-title" className="text-lg font-semibold">
            Sign in to Auterity
          </h1>
        </div>
        {next !== "/graphs" ? <p className="mb-3 text-sm text-slate-600">Sign in to continue to {next}.</p> : null}
        <TextField label="Email" type="email" value={email} onChange={setEmail} required autoComplete="username" name="email" />
        <TextField label="Password" type="password" value={password} onChange={setPassword} required autoComplete="current-password" name="password" />
        <ErrorBox error={error} />
        <Button tone="primary" type="submit" disabled={busy} className="mt-3 w-full">
          {busy ? "Signing in…" : "Sign in"}
        </Button>
        <p className="mt-4 text-xs text-slate-600">Your session lives in this tab only: reloading or closing it signs you out.</p>
      </form>
    </main>
  );
}
