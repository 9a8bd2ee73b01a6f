/** The prompt and model registry's forms: a version's spec as the form edits it (strings) ↔
 * the API's spec, the variables a prompt template reads, and a comparison run's table. */

export type RegistryKind = "prompts" | "models";

export interface SpecField {
  key: string;
  label: string;
  kind: "text" | "multiline" | "number" | "json";
  required?: boolean;
  hint?: string;
}

export const SPEC_FIELDS: Record<RegistryKind, SpecField[]> = {
  prompts: [
    { key: "template", label: "Template", kind: "multiline", required: true, hint: "The user message; {{ name }} reads a variable the node passes" },
    { key: "system", label: "System message", kind: "multiline" },
    { key: "route", label: "Route", kind: "text", hint: "Used when the node names none" },
    { key: "temperature", label: "Temperature", kind: "number" },
    { key: "max_tokens", label: "Max tokens", kind: "number" },
    { key: "response_schema", label: "Response JSON Schema", kind: "json", hint: "Optional: structured output" },
  ],
  models: [
    { key: "route", label: "Route", kind: "text", required: true },
    { key: "temperature", label: "Temperature", kind: "number" },
    { key: "max_tokens", label: "Max tokens", kind: "number" },
    { key: "description", label: "Description", kind: "multiline" },
  ],
};

export type SpecDraft = Record<string, string>;

export function specDraft(kind: RegistryKind, spec: Record<string, unknown> | undefined): SpecDraft {
  const draft: SpecDraft = {};
  for (const field of SPEC_FIELDS[kind]) {
    const value = spec?.[field.key];
    draft[field.key] = value == null ? "" : field.kind === "json" ? JSON.stringify(value, null, 2) : String(value);
  }
  return draft;
}

export class SpecError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.field = field;
  }
}

/** The spec to send; empty fields are left out, numbers that are not numbers go as typed
 * (the API names the field), and JSON that does not parse is refused here, naming it. */
export function specBody(kind: RegistryKind, draft: SpecDraft): Record<string, unknown> {
  const spec: Record<string, unknown> = {};
  for (const field of SPEC_FIELDS[kind]) {
    const raw = (draft[field.key] ?? "").trim();
    if (!raw) continue;
    if (field.kind === "number") {
      const parsed = Number(raw);
      spec[field.key] = Number.isFinite(parsed) ? parsed : raw;
    } else if (field.kind === "json") {
      try {
        spec[field.key] = JSON.parse(raw);
      } catch {
        throw new SpecError(`spec.${field.key}`, "is not valid JSON");
      }
    } else {
      spec[field.key] = field.kind === "multiline" ? (draft[field.key] ?? "") : raw;
    }
  }
  return spec;
}

/** The top-level variables a template reads (`{{ ticket }}`, `{{ user.name | upper }}` → ticket, user). */
export function templateVariables(template: string): string[] {
  const found = new Set<string>();
  for (const match of template.matchAll(/\{\{-?\s*([A-Za-z_][A-Za-z0-9_]*)/g)) if (match[1]) found.add(match[1]);
  return [...found];
}

export interface ComparisonRow {
  case: Record<string, unknown>;
  a: string;
  b: string;
  costA: number | null;
  costB: number | null;
}

function answer(output: unknown): { text: string; cost: number | null } {
  if (output && typeof output === "object") {
    const record = output as Record<string, unknown>;
    const text = typeof record.text === "string" ? record.text : JSON.stringify(record.object ?? record);
    return { text, cost: typeof record.cost === "number" ? record.cost : null };
  }
  return { text: output == null ? "" : String(output), cost: null };
}

/** The `results` node's output of a comparison run (a list of {case, a, b}) as table rows. */
export function comparisonRows(results: unknown): ComparisonRow[] {
  if (!Array.isArray(results)) return [];
  return results.map((row: { case?: Record<string, unknown>; a?: unknown; b?: unknown }) => {
    const [a, b] = [answer(row?.a), answer(row?.b)];
    return { case: row?.case ?? {}, a: a.text, b: b.text, costA: a.cost, costB: b.cost };
  });
}
