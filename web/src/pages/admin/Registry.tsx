import { useState } from "react";
import { Link } from "react-router-dom";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/client";
import { useCan } from "../../api/hooks";
import type { ExecutionRead, PromptComparison, RegistryEntryList, RegistryEntryRead } from "../../api/types";
import { Button, Dialog, Empty, ErrorBox, PageHeader, Spinner, StatusBadge, Table, TextField, formatTime } from "../../components/ui";
import { SelectField, TextAreaField } from "../../components/fields";
import { formatUsd } from "../../lib/gateway";
import { formIssues, messageAt, unclaimedMessages, type Issue } from "../../lib/problems";
import { SPEC_FIELDS, SpecError, comparisonRows, specBody, specDraft, templateVariables, type RegistryKind, type SpecDraft } from "../../lib/registry";

const TITLES: Record<RegistryKind, { plural: string; one: string }> = {
  prompts: { plural: "Prompts", one: "prompt" },
  models: { plural: "Models", one: "model" },
};

type Action =
  | { kind: RegistryKind; type: "create" }
  | { kind: RegistryKind; type: "version"; entry: RegistryEntryRead }
  | { kind: RegistryKind; type: "alias"; entry: RegistryEntryRead; alias?: string }
  | { kind: "prompts"; type: "compare"; entry: RegistryEntryRead };

export default function RegistryPage() {
  const [action, setAction] = useState<Action | null>(null);
  return (
    <div>
      <PageHeader title="Prompt and model registry" subtitle="Immutable versions and movable aliases; a run pins the version an alias names when it starts." />
      <EntryList kind="prompts" onAction={setAction} />
      <EntryList kind="models" onAction={setAction} />
      {action?.type === "create" ? <VersionDialog kind={action.kind} onClose={() => setAction(null)} /> : null}
      {action?.type === "version" ? <VersionDialog kind={action.kind} entry={action.entry} onClose={() => setAction(null)} /> : null}
      {action?.type === "alias" ? <AliasDialog kind={action.kind} entry={action.entry} alias={action.alias} onClose={() => setAction(null)} /> : null}
      {action?.type === "compare" ? <CompareDialog entry={action.entry} onClose={() => setAction(null)} /> : null}
    </div>
  );
}

function EntryList({ kind, onAction }: { kind: RegistryKind; onAction: (action: Action) => void }) {
  const entries = useQuery({ queryKey: ["registry", kind], queryFn: () => api.get<RegistryEntryList>(`/v1/registry/${kind}`) });
  const { plural, one } = TITLES[kind];
  return (
    <section className="mb-6" aria-labelledby={`registry-${kind}`}>
      <div className="mb-2 flex items-center justify-between gap-2">
        <h2 id={`registry-${kind}`} className="text-base font-semibold text-slate-900">
          {plural}
        </h2>
        <Button small tone="primary" onClick={() => onAction({ kind, type: "create" })}>
          New {one}
        </Button>
      </div>
      <ErrorBox error={entries.error} />
      {entries.isPending ? <Spinner /> : null}
      {entries.data?.items.length === 0 ? <Empty>No {plural.toLowerCase()} yet.</Empty> : null}
      <div className="flex flex-col gap-3">
        {entries.data?.items.map((entry) => (
          <article key={entry.id} className="rounded-lg border border-slate-200 bg-white p-3" data-entry={entry.name} aria-labelledby={`entry-${entry.id}`}>
            <div className="flex flex-wrap items-center justify-between gap-2">
              <h3 id={`entry-${entry.id}`} className="font-mono text-sm font-semibold">
                {entry.name}
              </h3>
              <div className="flex flex-wrap gap-1">
                <Button small onClick={() => onAction({ kind, type: "version", entry })}>
                  New version<span className="sr-only"> of {entry.name}</span>
                </Button>
                <Button small onClick={() => onAction({ kind, type: "alias", entry })}>
                  Move an alias<span className="sr-only"> of {entry.name}</span>
                </Button>
                {kind === "prompts" && entry.versions.length > 1 ? (
                  <Button small onClick={() => onAction({ kind: "prompts", type: "compare", entry })}>
                    Compare versions<span className="sr-only"> of {entry.name}</span>
                  </Button>
                ) : null}
              </div>
            </div>
            <ul className="my-2 flex flex-wrap gap-2" aria-label={`Aliases of ${entry.name}`}>
              {Object.entries(entry.aliases).map(([alias, version]) => (
                <li key={alias} data-alias={alias} className="rounded-full bg-indigo-50 px-2 py-0.5 text-xs text-indigo-900">
                  {alias} → v{version}
                </li>
              ))}
              {Object.keys(entry.aliases).length === 0 ? <li className="text-xs text-slate-600">no aliases</li> : null}
            </ul>
            <Table label={`Versions of ${entry.name}`} head={["Version", "Spec", "Made"]}>
              {[...entry.versions].reverse().map((version) => (
                <tr key={version.version}>
                  <td className="px-3 py-2 align-top">v{version.version}</td>
                  <td className="px-3 py-2">
                    <pre className="max-h-32 overflow-auto whitespace-pre-wrap break-words font-mono text-xs text-slate-800">{JSON.stringify(version.spec, null, 1)}</pre>
                  </td>
                  <td className="px-3 py-2 align-top text-xs">
                    {formatTime(version.created_at)}
                    {version.created_by ? <div className="text-slate-600">{version.created_by}</div> : null}
                  </td>
                </tr>
              ))}
            </Table>
          </article>
        ))}
      </div>
    </section>
  );
}

function SpecFields({ kind, draft, onChange, issues }: { kind: RegistryKind; draft: SpecDraft; onChange: (draft: SpecDraft) => void; issues: Issue[] }) {
  return (
    <>
      {SPEC_FIELDS[kind].map((field) => {
        const common = {
          label: field.label,
          value: draft[field.key] ?? "",
          onChange: (value: string) => onChange({ ...draft, [field.key]: value }),
          hint: field.hint,
          error: messageAt(issues, `spec.${field.key}`),
          required: field.required,
        };
        return field.kind === "multiline" || field.kind === "json" ? (
          <TextAreaField key={field.key} {...common} mono={field.kind === "json"} rows={field.key === "template" ? 5 : 3} />
        ) : (
          <TextField key={field.key} {...common} inputMode={field.kind === "number" ? "decimal" : undefined} />
        );
      })}
    </>
  );
}

function VersionDialog({ kind, entry, onClose }: { kind: RegistryKind; entry?: RegistryEntryRead; onClose: () => void }) {
  const queries = useQueryClient();
  const latest = entry?.versions[entry.versions.length - 1];
  const [name, setName] = useState("");
  const [draft, setDraft] = useState<SpecDraft>(() => specDraft(kind, latest?.spec));
  const [local, setLocal] = useState<Issue[]>([]);
  const save = useMutation({
    mutationFn: (spec: Record<string, unknown>) =>
      entry
        ? api.post<RegistryEntryRead>(`/v1/registry/${kind}/${encodeURIComponent(entry.name)}/versions`, { spec })
        : api.post<RegistryEntryRead>(`/v1/registry/${kind}`, { name: name.trim(), spec }),
    onSuccess: () => {
      void queries.invalidateQueries({ queryKey: ["registry", kind] });
      onClose();
    },
  });
  const issues = [...local, ...formIssues(save.error)];
  const top = unclaimedMessages(issues, ["name", "spec"]);
  return (
    <Dialog title={entry ? `New version of ${entry.name}` : `New ${TITLES[kind].one}`} onClose={onClose} wide>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          try {
            const spec = specBody(kind, draft);
            setLocal([]);
            save.mutate(spec);
          } catch (error) {
            if (!(error instanceof SpecError)) throw error;
            setLocal([{ field: error.field, message: error.message }]);
          }
        }}
      >
        {entry ? (
          <p className="mb-3 text-sm text-slate-700">Starts from v{latest?.version}; saving makes v{(latest?.version ?? 0) + 1}. Versions never change once made.</p>
        ) : (
          <TextField label="Name" value={name} onChange={setName} required error={messageAt(issues, "name")} />
        )}
        <SpecFields kind={kind} draft={draft} onChange={setDraft} issues={issues} />
        {top.length ? <ErrorBox error={new Error(top.join("; "))} /> : null}
        <div className="mt-3 flex justify-end gap-2">
          <Button onClick={onClose}>Cancel</Button>
          <Button tone="primary" type="submit" disabled={save.isPending || (!entry && !name.trim())}>
            Save version
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

function AliasDialog({ kind, entry, alias: initial, onClose }: { kind: RegistryKind; entry: RegistryEntryRead; alias?: string; onClose: () => void }) {
  const queries = useQueryClient();
  const names = Object.keys(entry.aliases);
  const [alias, setAlias] = useState(initial ?? names[0] ?? "production");
  const latest = entry.versions[entry.versions.length - 1]?.version ?? 1;
  const [version, setVersion] = useState(String(entry.aliases[alias] ?? latest));
  const move = useMutation({
    mutationFn: () => api.put<RegistryEntryRead>(`/v1/registry/${kind}/${encodeURIComponent(entry.name)}/aliases/${encodeURIComponent(alias.trim())}`, { version: Number(version) }),
    onSuccess: () => {
      void queries.invalidateQueries({ queryKey: ["registry", kind] });
      onClose();
    },
  });
  const issues = formIssues(move.error);
  const top = unclaimedMessages(issues, ["version"]);
  return (
    <Dialog title={`Move an alias of ${entry.name}`} onClose={onClose}>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          move.mutate();
        }}
      >
        <TextField label="Alias" value={alias} onChange={setAlias} required hint={names.length ? `Now: ${names.map((n) => `${n} → v${entry.aliases[n]}`).join(", ")}` : "A new alias is made by naming it"} />
        <SelectField
          label="Version it names"
          value={version}
          onChange={setVersion}
          options={[...entry.versions].reverse().map((v) => ({ value: String(v.version), label: `v${v.version}` }))}
          error={messageAt(issues, "version")}
        />
        <p className="mb-3 text-xs text-slate-600">Runs already started keep the version they pinned; the move is recorded in the audit trail.</p>
        {top.length ? <ErrorBox error={new Error(top.join("; "))} /> : null}
        <div className="mt-3 flex justify-end gap-2">
          <Button onClick={onClose}>Cancel</Button>
          <Button tone="primary" type="submit" disabled={move.isPending || !alias.trim()}>
            Move alias
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

const FINISHED = new Set(["completed", "failed", "cancelled", "terminated", "timed_out"]);

function CompareDialog({ entry, onClose }: { entry: RegistryEntryRead; onClose: () => void }) {
  const canWrite = useCan("graphs:write");
  const canStart = useCan("executions:start");
  const canRun = canWrite && canStart;
  const refs = [...Object.keys(entry.aliases), ...[...entry.versions].reverse().map((v) => String(v.version))];
  const latest = entry.versions[entry.versions.length - 1];
  const previous = entry.versions[entry.versions.length - 2];
  const [a, setA] = useState(previous ? String(previous.version) : (refs[0] ?? ""));
  const [b, setB] = useState(latest ? String(latest.version) : (refs[1] ?? ""));
  const variables = templateVariables(String(latest?.spec.template ?? ""));
  const [cases, setCases] = useState(() => JSON.stringify([Object.fromEntries(variables.map((name) => [name, ""]))], null, 2));
  const [route, setRoute] = useState("");
  const [local, setLocal] = useState<Issue[]>([]);
  const compare = useMutation({
    mutationFn: (parsed: unknown) =>
      api.post<PromptComparison>(`/v1/registry/prompts/${encodeURIComponent(entry.name)}/compare`, { versions: [a, b], cases: parsed, ...(route.trim() ? { route: route.trim() } : {}) }),
  });
  const run = useQuery({
    queryKey: ["executions", compare.data?.execution_id],
    enabled: Boolean(compare.data),
    queryFn: () => api.get<ExecutionRead>(`/v1/executions/${compare.data?.execution_id}`),
    refetchInterval: (query) => (query.state.data && FINISHED.has(query.state.data.status) ? false : 1000),
  });
  const rows = run.data?.status === "completed" ? comparisonRows(run.data.nodes?.results?.output) : [];
  const issues = [...local, ...formIssues(compare.error)];
  const top = unclaimedMessages(issues, ["versions", "cases", "route"]);
  const [va, vb] = compare.data?.versions ?? [];
  const options = refs.map((ref) => ({ value: ref, label: /^\d+$/.test(ref) ? `v${ref}` : `${ref} (v${entry.aliases[ref]})` }));
  return (
    <Dialog title={`Compare versions of ${entry.name}`} onClose={onClose} wide>
      {!canRun ? <p className="mb-3 text-sm text-amber-900">Comparing saves and runs a graph: it needs graphs:write and executions:start too.</p> : null}
      <form
        onSubmit={(event) => {
          event.preventDefault();
          let parsed: unknown;
          try {
            parsed = JSON.parse(cases);
          } catch {
            setLocal([{ field: "cases", message: "is not valid JSON (a list of objects, one per call)" }]);
            return;
          }
          setLocal([]);
          compare.mutate(parsed);
        }}
      >
        <div className="grid gap-x-3 sm:grid-cols-2">
          <SelectField label="Version A" value={a} onChange={setA} options={options} error={messageAt(issues, "versions[0]")} />
          <SelectField label="Version B" value={b} onChange={setB} options={options} error={messageAt(issues, "versions[1]")} />
        </div>
        <TextAreaField label="Cases (JSON list, one object of variables per call)" value={cases} onChange={setCases} mono rows={5} error={messageAt(issues, "cases")} hint={variables.length ? `The template reads: ${variables.join(", ")}` : undefined} />
        <TextField label="Route (optional)" value={route} onChange={setRoute} hint="Overrides the versions' own route" error={messageAt(issues, "route")} />
        {top.length ? <ErrorBox error={new Error(top.join("; "))} /> : null}
        <div className="mt-3 flex justify-end gap-2">
          <Button onClick={onClose}>Close</Button>
          <Button tone="primary" type="submit" disabled={compare.isPending || (run.data ? !FINISHED.has(run.data.status) : false)}>
            Run the comparison
          </Button>
        </div>
      </form>
      {compare.data ? (
        <div className="mt-4 border-t border-slate-200 pt-3" aria-live="polite">
          <p className="mb-2 flex flex-wrap items-center gap-2 text-sm">
            Run <Link className="font-mono text-xs text-indigo-700 underline" to={`/runs/${encodeURIComponent(compare.data.execution_id)}`}>{compare.data.execution_id}</Link>
            {run.data ? <StatusBadge status={run.data.status} /> : <Spinner label="Starting" />}
          </p>
          <ErrorBox error={run.error} />
          {run.data?.status === "failed" ? <ErrorBox error={new Error(`node ${run.data.failed_node ?? "?"} failed: ${String(run.data.error?.message ?? "see the run")}`)} /> : null}
          {rows.length ? (
            <Table label="Comparison" head={["Case", `v${va}`, `v${vb}`]}>
              {rows.map((row, index) => (
                <tr key={index} data-testid="comparison-row">
                  <td className="px-3 py-2 align-top font-mono text-xs">{JSON.stringify(row.case)}</td>
                  <td className="px-3 py-2 align-top text-sm">
                    {row.a}
                    <div className="text-xs text-slate-600">{row.costA != null ? formatUsd(row.costA) : "unpriced"}</div>
                  </td>
                  <td className="px-3 py-2 align-top text-sm">
                    {row.b}
                    <div className="text-xs text-slate-600">{row.costB != null ? formatUsd(row.costB) : "unpriced"}</div>
                  </td>
                </tr>
              ))}
            </Table>
          ) : null}
        </div>
      ) : null}
    </Dialog>
  );
}
