import { useEffect, useRef, useState, type FormEvent } from "react";
import { useNavigate, useSearchParams } from "react-router-dom";
import { discoverSso, exchangeSsoCode, login } from "../api/client";
import type { SignInOptionRead } from "../api/types";
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
  const [options, setOptions] = useState<SignInOptionRead[] | null>(null);
  const code = params.get("sso_code");
  const exchanged = useRef<string | null>(null);

  // Back from the identity provider: trade the one-time code for a session, once.
  useEffect(() => {
    if (!code || exchanged.current === code) return;
    exchanged.current = code;
    setBusy(true);
    exchangeSsoCode(code)
      .then(() => navigate(next, { replace: true }))
      .catch((caught: unknown) => {
        setError(caught);
        setBusy(false);
      });
  }, [code, next, navigate]);

  /** Where the identity provider sends the browser back to: this page, which finishes the sign-in. */
  const ssoUrl = (option: SignInOptionRead) =>
    `${option.login_url}?return_to=${encodeURIComponent(`/login?next=${encodeURIComponent(next)}`)}`;

  const singleSignOn = async () => {
    setError(null);
    setOptions(null);
    if (!email.trim()) {
      setError(new Error("Enter your work email to find your organization's single sign-on."));
      return;
    }
    setBusy(true);
    try {
      const found = await discoverSso(email.trim());
      const [only] = found.options;
      if (found.options.length === 1 && only) {
        window.location.assign(ssoUrl(only));
        return;
      }
      setOptions(found.options);
    } catch (caught) {
      setError(caught);
    }
    setBusy(false);
  };

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
        <Button type="button" disabled={busy} className="mt-2 w-full" onClick={() => void singleSignOn()}>
          Sign in with SSO
        </Button>
        {options && options.length === 0 ? (
          <p role="status" className="mt-3 text-sm text-slate-700">
            No single sign-on is set up for this email&apos;s domain: sign in with your password.
          </p>
        ) : null}
        {options && options.length > 1 ? (
          <nav aria-label="Organizations" className="mt-3">
            <p className="mb-1 text-sm text-slate-700">Choose your organization:</p>
            <ul className="flex flex-col gap-1">
              {options.map((option) => (
                <li key={option.tenant}>
                  <a className="text-sm text-indigo-700 underline" href={ssoUrl(option)}>
                    {option.tenant_name} ({option.protocol.toUpperCase()})
                  </a>
                </li>
              ))}
            </ul>
          </nav>
        ) : null}
        <p className="mt-4 text-xs text-slate-600">Your session lives in this tab only: reloading or closing it signs you out.</p>
      </form>
    </main>
  );
}
