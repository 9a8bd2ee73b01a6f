/** A form generated from JSON Schema field specs (lib/schemaForm): enums as selects,
 * durations, lists, maps, nested objects, templates and expressions with completion, and
 * each validation problem under the field it names. */
import { useEffect, useId, useState } from "react";
import { assign, localProblem, type FieldSpec } from "../lib/schemaForm";
import { describe, issuesForField, type Issue } from "../lib/problems";
import { ExpressionInput } from "./ExpressionInput";
import { Button } from "./ui";

type Values = Record<string, unknown>;

export function SchemaForm({
  fields,
  values,
  onChange,
  issues,
  readOnly,
}: {
  fields: FieldSpec[];
  values: Values;
  onChange: (values: Values) => void;
  issues?: Issue[];
  readOnly?: boolean;
}) {
  return (
    <div className="space-y-3">
      {fields.map((field) => (
        <FieldRow
          key={field.path}
          field={field}
          value={values[field.name]}
          issues={issuesForField(issues, field.path)}
          allIssues={issues}
          readOnly={readOnly}
          onChange={(value) => onChange(assign(values, field.name, value))}
        />
      ))}
    </div>
  );
}

function FieldRow({
  field,
  value,
  onChange,
  issues,
  allIssues,
  readOnly,
}: {
  field: FieldSpec;
  value: unknown;
  onChange: (value: unknown) => void;
  issues: Issue[];
  allIssues?: Issue[];
  readOnly?: boolean;
}) {
  const id = useId();
  const local = localProblem(field, value);
  const shown = issues.length ? issues.map(describe).join("; ") : local && local !== "required" ? local : null;
  const errorId = `${id}-error`;
  const hintId = `${id}-hint`;
  const describedBy = [shown ? errorId : null, field.description ? hintId : null].filter(Boolean).join(" ") || undefined;
  const label = (
    <span className="text-xs font-semibold text-slate-800">
      {field.label}
      {field.required ? <span className="text-red-700"> *</span> : null}
      {field.kind === "template" ? <span className="ml-1 font-normal text-slate-600">template</span> : null}
      {field.kind === "expression" ? <span className="ml-1 font-normal text-slate-600">expression</span> : null}
    </span>
  );
  if (field.kind === "object") {
    const current = (value && typeof value === "object" ? value : {}) as Values;
    return (
      <fieldset className="rounded-md border border-slate-200 p-2" data-field={field.path}>
        <legend className="px-1">{label}</legend>
        {field.description ? <p className="mb-2 text-xs text-slate-600">{field.description}</p> : null}
        {field.nullable && value == null ? (
          <Button small disabled={readOnly} onClick={() => onChange({})}>
            Set {field.label.toLowerCase()}
          </Button>
        ) : (
          <>
            <SchemaForm fields={field.fields ?? []} values={current} onChange={onChange} issues={allIssues} readOnly={readOnly} />
            {field.nullable ? (
              <Button small tone="ghost" className="mt-2" disabled={readOnly} onClick={() => onChange(undefined)}>
                Remove {field.label.toLowerCase()}
              </Button>
            ) : null}
          </>
        )}
        {shown ? <p id={errorId} className="mt-1 text-xs text-red-700">{shown}</p> : null}
      </fieldset>
    );
  }
  return (
    <div data-field={field.path}>
      {field.kind === "boolean" ? (
        <div className="flex items-center gap-2">
          <input
            id={id}
            type="checkbox"
            disabled={readOnly}
            checked={Boolean(value ?? field.default)}
            onChange={(event) => onChange(event.target.checked)}
            aria-describedby={describedBy}
            className="h-4 w-4"
          />
          <label htmlFor={id}>{label}</label>
        </div>
      ) : (
        <label htmlFor={id} className="mb-1 block">
          {label}
        </label>
      )}
      {field.kind !== "boolean" ? (
        <Control id={id} field={field} value={value} onChange={onChange} invalid={Boolean(shown)} describedBy={describedBy} readOnly={readOnly} />
      ) : null}
      {field.description ? (
        <p id={hintId} className="mt-0.5 text-xs text-slate-600">
          {field.description}
        </p>
      ) : null}
      {shown ? (
        <p id={errorId} role="alert" className="mt-0.5 text-xs font-medium text-red-700" data-field-error={field.path}>
          {shown}
        </p>
      ) : null}
    </div>
  );
}

const INPUT = "w-full rounded-md border px-2 py-1.5 text-sm";

function Control({
  id,
  field,
  value,
  onChange,
  invalid,
  describedBy,
  readOnly,
}: {
  id: string;
  field: FieldSpec;
  value: unknown;
  onChange: (value: unknown) => void;
  invalid: boolean;
  describedBy?: string;
  readOnly?: boolean;
}) {
  const border = invalid ? "border-red-500 bg-red-50" : "border-slate-300";
  const optional = !field.required || field.nullable;
  switch (field.kind) {
    case "template":
    case "expression":
      if (value !== undefined && value !== null && typeof value !== "string") {
        return <JsonControl id={id} value={value} onChange={onChange} invalid={invalid} describedBy={describedBy} readOnly={readOnly} />;
      }
      return (
        <ExpressionInput
          id={id}
          mode={field.kind}
          multiline={field.multiline}
          value={(value as string | undefined) ?? ""}
          invalid={invalid}
          describedBy={describedBy}
          readOnly={readOnly}
          placeholder={typeof field.default === "string" ? field.default : undefined}
          onChange={(text) => onChange(text === "" && optional ? undefined : text)}
        />
      );
    case "text":
    case "duration":
      return field.multiline ? (
        <textarea
          id={id}
          rows={3}
          readOnly={readOnly}
          value={(value as string | undefined) ?? ""}
          aria-invalid={invalid || undefined}
          aria-describedby={describedBy}
          onChange={(event) => onChange(event.target.value === "" && optional ? undefined : event.target.value)}
          className={`${INPUT} ${border}`}
        />
      ) : (
        <input
          id={id}
          type="text"
          readOnly={readOnly}
          value={(value as string | undefined) ?? ""}
          placeholder={field.kind === "duration" ? `e.g. ${typeof field.default === "string" ? field.default : "30s, 5m, 1h30m"}` : typeof field.default === "string" ? field.default : undefined}
          aria-invalid={invalid || undefined}
          aria-describedby={describedBy}
          onChange={(event) => onChange(event.target.value === "" && optional ? undefined : event.target.value)}
          className={`${INPUT} ${border} ${field.kind === "duration" ? "font-mono" : ""}`}
        />
      );
    case "number":
    case "integer":
      return (
        <input
          id={id}
          type="number"
          readOnly={readOnly}
          step={field.kind === "integer" ? 1 : "any"}
          min={field.minimum}
          max={field.maximum}
          value={typeof value === "number" ? value : ""}
          placeholder={field.default !== undefined ? String(field.default) : undefined}
          aria-invalid={invalid || undefined}
          aria-describedby={describedBy}
          onChange={(event) => onChange(event.target.value === "" ? undefined : Number(event.target.value))}
          className={`${INPUT} ${border}`}
        />
      );
    case "select":
      return (
        <select
          id={id}
          disabled={readOnly}
          value={value === undefined || value === null ? "" : String(value)}
          aria-invalid={invalid || undefined}
          aria-describedby={describedBy}
          onChange={(event) => {
            const chosen = field.options?.find((option) => String(option) === event.target.value);
            onChange(chosen === undefined ? undefined : chosen);
          }}
          className={`${INPUT} ${border} bg-white`}
        >
          {optional || value === undefined ? <option value="">{field.default !== undefined ? `default (${String(field.default)})` : "—"}</option> : null}
          {field.options?.map((option) => (
            <option key={String(option)} value={String(option)}>
              {String(option)}
            </option>
          ))}
        </select>
      );
    case "list":
      return <ListControl id={id} field={field} value={value} onChange={onChange} readOnly={readOnly} describedBy={describedBy} />;
    case "map":
      return <MapControl id={id} field={field} value={value} onChange={onChange} readOnly={readOnly} />;
    default:
      if (field.template) return <TemplateOrJson id={id} field={field} value={value} onChange={onChange} invalid={invalid} describedBy={describedBy} readOnly={readOnly} />;
      return <JsonControl id={id} value={value} onChange={onChange} invalid={invalid} describedBy={describedBy} readOnly={readOnly} />;
  }
}

/** A template field that may hold any JSON (a transform's value, a request body): text
 * with completion, or JSON whose strings are templates. */
function TemplateOrJson({
  id,
  field,
  value,
  onChange,
  invalid,
  describedBy,
  readOnly,
}: {
  id: string;
  field: FieldSpec;
  value: unknown;
  onChange: (value: unknown) => void;
  invalid: boolean;
  describedBy?: string;
  readOnly?: boolean;
}) {
  const [json, setJson] = useState(value !== undefined && value !== null && typeof value !== "string");
  return (
    <div>
      {json ? (
        <JsonControl id={id} value={value} onChange={onChange} invalid={invalid} describedBy={describedBy} readOnly={readOnly} />
      ) : (
        <ExpressionInput
          id={id}
          mode="template"
          multiline
          value={typeof value === "string" ? value : ""}
          invalid={invalid}
          describedBy={describedBy}
          readOnly={readOnly}
          onChange={(text) => onChange(text === "" && !field.required ? undefined : text)}
        />
      )}
      {!readOnly ? (
        <button
          type="button"
          className="mt-0.5 text-xs text-indigo-700 underline"
          onClick={() => {
            if (json && typeof value !== "string") onChange(value === undefined ? undefined : JSON.stringify(value));
            setJson(!json);
          }}
        >
          {json ? "Edit as text" : "Edit as JSON (numbers, lists, objects)"}
        </button>
      ) : null}
    </div>
  );
}

function ListControl({
  id,
  field,
  value,
  onChange,
  readOnly,
  describedBy,
}: {
  id: string;
  field: FieldSpec;
  value: unknown;
  onChange: (value: unknown) => void;
  readOnly?: boolean;
  describedBy?: string;
}) {
  const items = Array.isArray(value) ? value : [];
  const item = field.item;
  if (!item || !["text", "template", "integer", "number", "duration", "select"].includes(item.kind)) {
    return <JsonControl id={id} value={value} onChange={onChange} invalid={false} describedBy={describedBy} readOnly={readOnly} />;
  }
  const numeric = item.kind === "integer" || item.kind === "number";
  const set = (next: unknown[]) => onChange(next.length === 0 && (!field.required || field.nullable) ? undefined : next);
  return (
    <div className="space-y-1" id={id} role="group" aria-describedby={describedBy}>
      {items.map((entry, index) => (
        <div key={index} className="flex gap-1">
          <input
            type={numeric ? "number" : "text"}
            aria-label={`${field.label} ${index + 1}`}
            readOnly={readOnly}
            value={entry === undefined || entry === null ? "" : String(entry)}
            onChange={(event) => {
              const next = [...items];
              next[index] = numeric ? Number(event.target.value) : event.target.value;
              set(next);
            }}
            className={`${INPUT} border-slate-300 ${item.kind === "template" ? "font-mono text-xs" : ""}`}
          />
          <Button small tone="ghost" disabled={readOnly} aria-label={`Remove ${field.label} ${index + 1}`} onClick={() => set(items.filter((_, i) => i !== index))}>
            ✕
          </Button>
        </div>
      ))}
      <Button small disabled={readOnly} onClick={() => set([...items, numeric ? 0 : ""])}>
        + Add {field.label.toLowerCase().replace(/s$/, "")}
      </Button>
    </div>
  );
}

function MapControl({
  id,
  field,
  value,
  onChange,
  readOnly,
}: {
  id: string;
  field: FieldSpec;
  value: unknown;
  onChange: (value: unknown) => void;
  readOnly?: boolean;
}) {
  const entries = Object.entries((value && typeof value === "object" ? value : {}) as Record<string, unknown>);
  const set = (next: [string, unknown][]) => onChange(next.length ? Object.fromEntries(next) : undefined);
  return (
    <div className="space-y-1" id={id} role="group">
      {entries.map(([key, entry], index) => (
        <div key={index} className="flex gap-1">
          <input
            aria-label={`${field.label} name ${index + 1}`}
            readOnly={readOnly}
            value={key}
            onChange={(event) => set(entries.map((pair, i) => (i === index ? [event.target.value, pair[1]] : pair)))}
            className={`${INPUT} w-2/5 border-slate-300`}
          />
          <input
            aria-label={`${field.label} value ${index + 1}`}
            readOnly={readOnly}
            value={String(entry ?? "")}
            onChange={(event) => set(entries.map((pair, i) => (i === index ? [pair[0], event.target.value] : pair)))}
            className={`${INPUT} border-slate-300 font-mono text-xs`}
          />
          <Button small tone="ghost" disabled={readOnly} aria-label={`Remove ${field.label} ${index + 1}`} onClick={() => set(entries.filter((_, i) => i !== index))}>
            ✕
          </Button>
        </div>
      ))}
      <Button small disabled={readOnly} onClick={() => set([...entries, [`name${entries.length + 1}`, ""]])}>
        + Add entry
      </Button>
    </div>
  );
}

/** Free JSON (a request body, a JSON Schema): edited as text, applied when it parses. */
export function JsonControl({
  id,
  value,
  onChange,
  invalid,
  describedBy,
  readOnly,
  rows = 4,
}: {
  id: string;
  value: unknown;
  onChange: (value: unknown) => void;
  invalid: boolean;
  describedBy?: string;
  readOnly?: boolean;
  rows?: number;
}) {
  const shown = value === undefined ? "" : JSON.stringify(value, null, 2);
  const [text, setText] = useState(shown);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    setText((current) => {
      try {
        if (current.trim() && JSON.stringify(JSON.parse(current)) === JSON.stringify(value)) return current;
      } catch {
        return current;
      }
      return shown;
    });
  }, [shown, value]);
  return (
    <>
      <textarea
        id={id}
        rows={rows}
        readOnly={readOnly}
        value={text}
        spellCheck={false}
        aria-invalid={invalid || problem !== null || undefined}
        aria-describedby={describedBy}
        placeholder="JSON"
        onChange={(event) => {
          setText(event.target.value);
          if (!event.target.value.trim()) {
            setProblem(null);
            onChange(undefined);
            return;
          }
          try {
            onChange(JSON.parse(event.target.value));
            setProblem(null);
          } catch (error) {
            setProblem(`not JSON yet: ${(error as Error).message}`);
          }
        }}
        className={`${INPUT} font-mono text-xs ${invalid || problem ? "border-red-500 bg-red-50" : "border-slate-300"}`}
      />
      {problem ? <p className="mt-0.5 text-xs text-red-700">{problem}</p> : null}
    </>
  );
}
