/** The graph's own settings: name, description, the inputs schema (as a list of fields, or
 * raw JSON Schema) and vars. */
import { useId, useState } from "react";
import type { GraphMeta, JsonSchema } from "../lib/graph";
import { describe, issuesForField, type Issue } from "../lib/problems";
import { JsonControl } from "../components/SchemaForm";
import { Button } from "../components/ui";

const TYPES = ["string", "number", "integer", "boolean", "object", "array"];

interface InputRow {
  name: string;
  type: string;
  required: boolean;
  description: string;
}

function rowsOf(schema: JsonSchema | undefined): InputRow[] {
  const properties = (schema?.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema?.required as string[] | undefined) ?? []);
  return Object.entries(properties).map(([name, property]) => ({
    name,
    type: typeof property.type === "string" ? property.type : "string",
    required: required.has(name),
    description: typeof property.description === "string" ? property.description : "",
  }));
}

function schemaOf(rows: InputRow[], previous: JsonSchema | undefined): JsonSchema {
  const old = (previous?.properties ?? {}) as Record<string, JsonSchema>;
  const properties = Object.fromEntries(
    rows.map((row) => {
      const { description: _d, type: _t, ...kept } = old[row.name] ?? {};
      return [row.name, { ...kept, type: row.type, ...(row.description ? { description: row.description } : {}) }];
    }),
  );
  const required = rows.filter((row) => row.required).map((row) => row.name);
  const schema: JsonSchema = { ...(previous ?? {}), type: "object", properties };
  if (required.length) schema.required = required;
  else delete schema.required;
  return schema;
}

export function GraphPanel({
  meta,
  issues,
  readOnly,
  onChange,
}: {
  meta: GraphMeta;
  issues: Issue[];
  readOnly?: boolean;
  onChange: (meta: GraphMeta, key: string) => void;
}) {
  const id = useId();
  const [raw, setRaw] = useState(false);
  const rows = rowsOf(meta.inputs);
  const setRows = (next: InputRow[]) => onChange({ ...meta, inputs: schemaOf(next, meta.inputs) }, "graph.inputs");
  const fieldIssues = (path: string) => issuesForField(issues, path).map(describe).join("; ");
  return (
    <div className="space-y-4">
      {issues.length ? (
        <ul role="alert" className="space-y-1 rounded-md bg-red-50 p-2 text-xs text-red-800">
          {issues.map((issue, index) => (
            <li key={index}>
              <span className="font-mono">{issue.field || "graph"}</span>: {describe(issue)}
            </li>
          ))}
        </ul>
      ) : null}
      <div>
        <label htmlFor={`${id}-name`} className="mb-1 block text-xs font-semibold text-slate-800">
          Name
        </label>
        <input
          id={`${id}-name`}
          value={meta.name}
          readOnly={readOnly}
          aria-invalid={fieldIssues("name") ? true : undefined}
          onChange={(event) => onChange({ ...meta, name: event.target.value }, "graph.name")}
          className="w-full rounded-md border border-slate-300 px-2 py-1.5 text-sm"
        />
      </div>
      <div>
        <label htmlFor={`${id}-description`} className="mb-1 block text-xs font-semibold text-slate-800">
          Description
        </label>
        <textarea
          id={`${id}-description`}
          rows={2}
          value={meta.description ?? ""}
          readOnly={readOnly}
          onChange={(event) => onChange({ ...meta, description: event.target.value || null }, "graph.description")}
          className="w-full rounded-md border border-slate-300 px-2 py-1.5 text-sm"
        />
      </div>
      <section aria-label="Inputs">
        <div className="mb-1 flex items-center justify-between">
          <h3 className="text-xs font-semibold uppercase tracking-wide text-slate-600">Inputs</h3>
          <Button small tone="ghost" onClick={() => setRaw(!raw)}>
            {raw ? "Edit as fields" : "Edit as JSON Schema"}
          </Button>
        </div>
        {raw ? (
          <JsonControl
            id={`${id}-inputs`}
            rows={10}
            value={meta.inputs ?? { type: "object" }}
            invalid={Boolean(fieldIssues("inputs"))}
            readOnly={readOnly}
            onChange={(value) => onChange({ ...meta, inputs: (value as JsonSchema) ?? { type: "object" } }, "graph.inputs")}
          />
        ) : (
          <div className="space-y-2">
            {rows.length === 0 ? <p className="text-xs text-slate-600">No inputs: runs start with an empty object.</p> : null}
            {rows.map((row, index) => (
              <div key={index} className="rounded-md border border-slate-200 p-2">
                <div className="flex gap-1">
                  <input
                    aria-label={`Input ${index + 1} name`}
                    value={row.name}
                    readOnly={readOnly}
                    onChange={(event) => setRows(rows.map((r, i) => (i === index ? { ...r, name: event.target.value } : r)))}
                    className="w-1/2 rounded-md border border-slate-300 px-2 py-1 font-mono text-xs"
                  />
                  <select
                    aria-label={`Input ${index + 1} type`}
                    value={row.type}
                    disabled={readOnly}
                    onChange={(event) => setRows(rows.map((r, i) => (i === index ? { ...r, type: event.target.value } : r)))}
                    className="rounded-md border border-slate-300 bg-white px-1 text-xs"
                  >
                    {TYPES.map((type) => (
                      <option key={type}>{type}</option>
                    ))}
                  </select>
                  <Button small tone="ghost" disabled={readOnly} aria-label={`Remove input ${row.name}`} onClick={() => setRows(rows.filter((_, i) => i !== index))}>
                    ✕
                  </Button>
                </div>
                <div className="mt-1 flex items-center gap-2">
                  <input
                    aria-label={`Input ${index + 1} description`}
                    placeholder="description"
                    value={row.description}
                    readOnly={readOnly}
                    onChange={(event) => setRows(rows.map((r, i) => (i === index ? { ...r, description: event.target.value } : r)))}
                    className="flex-1 rounded-md border border-slate-300 px-2 py-1 text-xs"
                  />
                  <label className="flex items-center gap-1 text-xs text-slate-700">
                    <input
                      type="checkbox"
                      checked={row.required}
                      disabled={readOnly}
                      onChange={(event) => setRows(rows.map((r, i) => (i === index ? { ...r, required: event.target.checked } : r)))}
                    />
                    required
                  </label>
                </div>
              </div>
            ))}
            {!readOnly ? (
              <Button small onClick={() => setRows([...rows, { name: `input${rows.length + 1}`, type: "string", required: false, description: "" }])}>
                + Add input
              </Button>
            ) : null}
          </div>
        )}
        {fieldIssues("inputs") ? <p className="mt-1 text-xs text-red-700">{fieldIssues("inputs")}</p> : null}
      </section>
      <section aria-label="Vars">
        <label htmlFor={`${id}-vars`} className="mb-1 block text-xs font-semibold uppercase tracking-wide text-slate-600">
          Vars <span className="font-normal normal-case">(constants, read as vars.name)</span>
        </label>
        <JsonControl
          id={`${id}-vars`}
          rows={5}
          value={meta.vars ?? {}}
          invalid={Boolean(fieldIssues("vars"))}
          readOnly={readOnly}
          onChange={(value) => onChange({ ...meta, vars: (value as Record<string, unknown>) ?? {} }, "graph.vars")}
        />
      </section>
    </div>
  );
}
