import { useEffect, useId, useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/client";
import type { TenantSettingsRead } from "../../api/types";
import { Button, ErrorBox, PageHeader, Spinner, TextField } from "../../components/ui";
import { TextAreaField } from "../../components/fields";
import { formIssues, messageAt, unclaimedMessages } from "../../lib/problems";

/** Only what changed goes in the PATCH, so each change is one audited fact. */
function changes(saved: TenantSettingsRead, retention: string, egress: string, ssoRequired: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const days = retention.trim();
  // What is not a number goes as typed: the API's message then names the field.
  if (days !== String(saved.audit_retention_days)) body.audit_retention_days = days && Number.isFinite(Number(days)) ? Number(days) : days;
  const entries = egress
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);
  if (entries.join("\n") !== saved.egress_allow.join("\n")) body.egress_allow = entries;
  if (ssoRequired !== saved.sso_required) body.sso_required = ssoRequired;
  return body;
}

export default function TenantPage() {
  const queries = useQueryClient();
  const tenant = useQuery({ queryKey: ["tenant"], queryFn: () => api.get<TenantSettingsRead>("/v1/tenant") });
  const [retention, setRetention] = useState("");
  const [egress, setEgress] = useState("");
  const [ssoRequired, setSsoRequired] = useState(false);
  const ssoId = useId();
  useEffect(() => {
    if (!tenant.data) return;
    setRetention(String(tenant.data.audit_retention_days));
    setEgress(tenant.data.egress_allow.join("\n"));
    setSsoRequired(tenant.data.sso_required);
  }, [tenant.data]);
  const save = useMutation({
    mutationFn: (body: Record<string, unknown>) => api.patch<TenantSettingsRead>("/v1/tenant", body),
    onSuccess: (saved) => queries.setQueryData(["tenant"], saved),
  });
  const issues = formIssues(save.error);
  const top = unclaimedMessages(issues, ["audit_retention_days", "egress_allow", "sso_required"]);
  const pending = tenant.data ? changes(tenant.data, retention, egress, ssoRequired) : {};
  const ssoError = messageAt(issues, "sso_required");
  return (
    <div className="max-w-2xl">
      <PageHeader title="Tenant settings" subtitle={tenant.data ? `${tenant.data.name} (${tenant.data.slug})` : undefined} />
      <ErrorBox error={tenant.error} />
      {tenant.isPending ? <Spinner /> : null}
      {tenant.data ? (
        <form
          className="rounded-lg border border-slate-200 bg-white p-4"
          onSubmit={(event) => {
            event.preventDefault();
            save.mutate(pending);
          }}
        >
          <TextField
            label="Audit retention (days)"
            value={retention}
            onChange={setRetention}
            inputMode="numeric"
            hint="Older audit entries are deleted; 0 keeps everything, else 30 to 36500"
            error={messageAt(issues, "audit_retention_days")}
          />
          <TextAreaField
            label="Egress allow-list (one host name or CIDR a line)"
            value={egress}
            onChange={setEgress}
            mono
            rows={4}
            hint="Non-public hosts this tenant's http nodes and model api_bases may reach"
            error={messageAt(issues, "egress_allow")}
          />
          <div className="mb-3">
            <label htmlFor={ssoId} className="flex items-center gap-2 text-sm font-medium text-slate-800">
              <input
                id={ssoId}
                type="checkbox"
                checked={ssoRequired}
                onChange={(event) => setSsoRequired(event.target.checked)}
                aria-invalid={ssoError ? true : undefined}
                aria-describedby={`${ssoId}-note`}
              />
              Require single sign-on (owners may still use a password)
            </label>
            <p id={`${ssoId}-note`} className={`mt-1 text-xs ${ssoError ? "text-red-700" : "text-slate-600"}`}>
              {ssoError ?? (tenant.data.sso_configured ? "A SAML or OIDC connection is configured." : "No SAML or OIDC connection yet: configure one under Single sign-on first.")}
            </p>
          </div>
          {top.length ? <ErrorBox error={new Error(top.join("; "))} /> : null}
          {save.isSuccess && Object.keys(pending).length === 0 ? (
            <p role="status" className="mb-2 text-sm text-green-800">
              Saved.
            </p>
          ) : null}
          <div className="flex justify-end">
            <Button tone="primary" type="submit" disabled={save.isPending || Object.keys(pending).length === 0}>
              Save settings
            </Button>
          </div>
        </form>
      ) : null}
    </div>
  );
}
