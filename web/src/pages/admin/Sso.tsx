import { useEffect, useId, useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/client";
import type { ScimTokenCreated, SsoConfigRead, SsoConfigUpdate } from "../../api/types";
import { Button, Copyable, ErrorBox, PageHeader, Spinner, TextField, formatTime } from "../../components/ui";

type Protocol = "off" | "oidc" | "saml";
const NAMEID_EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

/** "group: role, role" per line, the way an admin writes a mapping down. */
export function parseMappings(text: string): { group: string; roles: string[] }[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const colon = line.lastIndexOf(":");
      const group = colon < 0 ? line : line.slice(0, colon).trim();
      const roles = colon < 0 ? [] : line.slice(colon + 1).split(",").map((role) => role.trim()).filter(Boolean);
      return { group, roles };
    });
}

function formatMappings(mappings: SsoConfigRead["role_mappings"]): string {
  return mappings.map((mapping) => `${mapping.group}: ${mapping.roles.join(", ")}`).join("\n");
}

function names(text: string): string[] {
  return text.split(",").map((name) => name.trim()).filter(Boolean);
}

function TextArea({ label, value, onChange, hint, rows = 4 }: { label: string; value: string; onChange: (value: string) => void; hint?: string; rows?: number }) {
  const id = useId();
  return (
    <div className="mb-3">
      <label htmlFor={id} className="mb-1 block text-sm font-medium text-slate-800">
        {label}
      </label>
      <textarea
        id={id}
        rows={rows}
        value={value}
        aria-describedby={hint ? `${id}-hint` : undefined}
        onChange={(event) => onChange(event.target.value)}
        className="w-full rounded-md border border-slate-300 px-2.5 py-1.5 font-mono text-xs"
      />
      {hint ? (
        <p id={`${id}-hint`} className="mt-1 text-xs text-slate-600">
          {hint}
        </p>
      ) : null}
    </div>
  );
}

/** The body of `PUT /v1/sso/config` from the form; a SAML IdP already stored is kept as its fields. */
function update(form: Form, current: SsoConfigRead | undefined): SsoConfigUpdate {
  const common = {
    role_mappings: parseMappings(form.mappings),
    default_roles: names(form.defaultRoles),
    jit_provisioning: form.jit,
    require_sso: form.requireSso,
  };
  if (form.protocol === "oidc") {
    const kept = current?.oidc;
    return {
      ...common,
      oidc: {
        email_claim: kept?.email_claim ?? "email",
        name_claim: kept?.name_claim ?? "name",
        groups_claim: kept?.groups_claim ?? "groups",
        token_auth: kept?.token_auth ?? "client_secret_basic",
        ...(kept?.scopes ? { scopes: kept.scopes } : {}),
        issuer: form.issuer.trim(),
        client_id: form.clientId.trim(),
        ...(form.clientSecret ? { client_secret: form.clientSecret } : {}),
      },
    };
  }
  const stored = current?.saml;
  const source = form.metadataXml.trim()
    ? { metadata_xml: form.metadataXml.trim() }
    : form.metadataUrl.trim() && form.metadataUrl.trim() !== (stored?.metadata_url ?? "")
      ? { metadata_url: form.metadataUrl.trim() }
      : stored
        ? { idp_entity_id: stored.idp_entity_id, idp_sso_url: stored.idp_sso_url, idp_slo_url: stored.idp_slo_url, idp_certificates: stored.idp_certificates }
        : { metadata_url: form.metadataUrl.trim() };
  // What the form does not show is kept as stored (PUT replaces the whole configuration).
  const settings = {
    name_id_format: stored?.name_id_format ?? NAMEID_EMAIL,
    email_attribute: stored?.email_attribute ?? null,
    name_attribute: stored?.name_attribute ?? null,
    groups_attribute: stored?.groups_attribute ?? "groups",
    allow_idp_initiated: stored?.allow_idp_initiated ?? false,
    sign_requests: stored?.sign_requests ?? true,
    want_response_signed: stored?.want_response_signed ?? false,
  };
  return { ...common, saml: { ...settings, ...source } };
}

interface Form {
  protocol: Protocol;
  issuer: string;
  clientId: string;
  clientSecret: string;
  metadataUrl: string;
  metadataXml: string;
  mappings: string;
  defaultRoles: string;
  jit: boolean;
  requireSso: boolean;
}

function formOf(config: SsoConfigRead | undefined): Form {
  return {
    protocol: config?.oidc ? "oidc" : config?.saml ? "saml" : "off",
    issuer: config?.oidc?.issuer ?? "",
    clientId: config?.oidc?.client_id ?? "",
    clientSecret: "",
    metadataUrl: config?.saml?.metadata_url ?? "",
    metadataXml: "",
    mappings: formatMappings(config?.role_mappings ?? []),
    defaultRoles: (config?.default_roles ?? []).join(", "),
    jit: config?.jit_provisioning ?? true,
    requireSso: config?.require_sso ?? false,
  };
}

export function SsoPage() {
  const queries = useQueryClient();
  const config = useQuery({ queryKey: ["sso"], queryFn: () => api.get<SsoConfigRead>("/v1/sso/config") });
  const [form, setForm] = useState<Form>(formOf(undefined));
  useEffect(() => setForm(formOf(config.data)), [config.data]);
  const set = <K extends keyof Form>(key: K) => (value: Form[K]) => setForm((previous) => ({ ...previous, [key]: value }));
  const refresh = () => void queries.invalidateQueries({ queryKey: ["sso"] });
  const save = useMutation({ mutationFn: () => api.put<SsoConfigRead>("/v1/sso/config", update(form, config.data)), onSuccess: refresh });
  const remove = useMutation({ mutationFn: () => api.delete("/v1/sso/config"), onSuccess: refresh });
  const scimToken = useMutation({ mutationFn: () => api.post<ScimTokenCreated>("/v1/sso/scim-token"), onSuccess: refresh });
  const revokeScim = useMutation({ mutationFn: () => api.delete("/v1/sso/scim-token"), onSuccess: refresh });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (form.protocol === "off") remove.mutate();
    else save.mutate();
  };
  const current = config.data;
  return (
    <div className="max-w-3xl">
      <PageHeader title="Single sign-on" subtitle="Members sign in through your identity provider (SAML 2.0 or OpenID Connect); groups map to roles." />
      <ErrorBox error={config.error} />
      {config.isPending ? <Spinner /> : null}
      {current?.saml ? (
        <section aria-label="For your identity provider" className="mb-4 rounded-md border border-slate-200 bg-white p-3">
          <h2 className="mb-2 text-sm font-semibold">Enter these at your SAML identity provider</h2>
          <Copyable label="Entity ID (audience)" value={current.saml.service_provider.entity_id} />
          <Copyable label="Assertion consumer service URL" value={current.saml.service_provider.acs_url} />
          <Copyable label="Metadata URL" value={current.saml.service_provider.metadata_url} />
        </section>
      ) : null}
      {current?.oidc ? (
        <section aria-label="For your identity provider" className="mb-4 rounded-md border border-slate-200 bg-white p-3">
          <h2 className="mb-2 text-sm font-semibold">Register this redirect URI at your OpenID provider</h2>
          <Copyable label="Redirect URI" value={current.oidc.redirect_uri} />
        </section>
      ) : null}
      {/* Editable once the stored configuration is in, so loading it never overwrites an edit. */}
      {current ? (
        <form onSubmit={submit} className="rounded-md border border-slate-200 bg-white p-3">
          <fieldset className="mb-3">
            <legend className="mb-1 text-sm font-medium">Protocol</legend>
            <div className="flex gap-4 text-sm">
              {(["off", "oidc", "saml"] as Protocol[]).map((protocol) => (
                <label key={protocol} className="flex items-center gap-1.5">
                  <input type="radio" name="protocol" checked={form.protocol === protocol} onChange={() => set("protocol")(protocol)} />
                  {protocol === "off" ? "Off" : protocol === "oidc" ? "OpenID Connect" : "SAML 2.0"}
                </label>
              ))}
            </div>
          </fieldset>
          {form.protocol === "oidc" ? (
            <>
              <TextField label="Issuer" value={form.issuer} onChange={set("issuer")} required placeholder="https://login.example.com" hint="Its discovery document is read at <issuer>/.well-known/openid-configuration." />
              <TextField label="Client ID" value={form.clientId} onChange={set("clientId")} required />
              <TextField
                label="Client secret"
                type="password"
                value={form.clientSecret}
                onChange={set("clientSecret")}
                autoComplete="off"
                hint={current?.oidc?.client_secret_set ? "A secret is stored; leave empty to keep it." : "Write-only: nobody can read it back."}
              />
            </>
          ) : null}
          {form.protocol === "saml" ? (
            <>
              <TextField label="IdP metadata URL" value={form.metadataUrl} onChange={set("metadataUrl")} placeholder="https://idp.example.com/metadata" hint="Fetched when you save." />
              <TextArea label="Or the IdP metadata XML" value={form.metadataXml} onChange={set("metadataXml")} rows={3} />
            </>
          ) : null}
          {form.protocol !== "off" ? (
            <>
              <TextArea label="Group to role mappings" value={form.mappings} onChange={set("mappings")} hint="One per line: IdP group: role, role" />
              <TextField label="Roles everyone gets" value={form.defaultRoles} onChange={set("defaultRoles")} hint="Comma-separated; may be empty." />
              <label className="mb-2 flex items-center gap-1.5 text-sm">
                <input type="checkbox" checked={form.jit} onChange={(event) => set("jit")(event.target.checked)} />
                Create accounts on first sign-in
              </label>
              <label className="mb-3 flex items-center gap-1.5 text-sm">
                <input type="checkbox" checked={form.requireSso} onChange={(event) => set("requireSso")(event.target.checked)} />
                Require SSO (password sign-in is refused for this organization)
              </label>
            </>
          ) : null}
          <ErrorBox error={save.error ?? remove.error} />
          {save.isSuccess || remove.isSuccess ? (
            <p role="status" className="mb-2 text-sm text-green-800">
              Saved.
            </p>
          ) : null}
          <div className="flex justify-end">
            <Button tone="primary" type="submit" disabled={save.isPending || remove.isPending || (form.protocol === "off" && !current?.saml && !current?.oidc)}>
              {form.protocol === "off" ? "Turn SSO off" : "Save"}
            </Button>
          </div>
        </form>
      ) : null}
      {current ? (
        <section aria-label="SCIM provisioning" className="mt-4 rounded-md border border-slate-200 bg-white p-3">
          <h2 className="mb-1 text-sm font-semibold">SCIM provisioning</h2>
          <p className="mb-2 text-xs text-slate-700">
            Your identity provider pushes users and groups to {current.scim.base_url}. {current.scim.token_set ? "A token is set." : "No token is set."}
            {current.updated_at ? ` Configuration changed ${formatTime(current.updated_at)}.` : ""}
          </p>
          {scimToken.data ? <Copyable label="SCIM token (shown this once: copy it now)" value={scimToken.data.token} /> : null}
          <ErrorBox error={scimToken.error ?? revokeScim.error} />
          <div className="flex gap-2">
            <Button onClick={() => scimToken.mutate()} disabled={scimToken.isPending}>
              {current.scim.token_set ? "Replace SCIM token" : "New SCIM token"}
            </Button>
            {current.scim.token_set ? (
              <Button tone="ghost" className="text-red-700" onClick={() => revokeScim.mutate()}>
                Revoke SCIM token
              </Button>
            ) : null}
          </div>
        </section>
      ) : null}
    </div>
  );
}
