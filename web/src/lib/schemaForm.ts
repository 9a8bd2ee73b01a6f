/** JSON Schema → form fields. The API publishes a JSON Schema per node kind (pydantic's
 * output: `$defs`/`$ref`, `anyOf [X, null]` for optional fields), the graph's inputs
 * schema and each task's form; one module turns any of them into field specs. */
import type { JsonSchema } from "./graph";

export type FieldKind =
  | "text"
  | "duration"
  | "template"
  | "expression"
  | "number"
  | "integer"
  | "boolean"
  | "select"
  | "list"
  | "object"
  | "map"
  | "json";

export interface FieldSpec {
  name: string;
  /** Dotted path from the form's root, as validation errors name it (`config.url`). */
  path: string;
  label: string;
  description?: string;
  required: boolean;
  nullable: boolean;
  kind: FieldKind;
  options?: (string | number)[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  multiline?: boolean;
  /** Strings inside are templates (a JSON field of a template: text or any JSON). */
  template?: boolean;
  item?: FieldSpec;
  fields?: FieldSpec[];
  value?: FieldSpec;
}

export interface FormContext {
  /** Config fields in which every string is a template (`x-auterity.templates`). */
  templates?: string[];
  /** Config fields that hold one bare expression (`x-auterity.expressions`). */
  expressions?: string[];
}

const DURATION_UNITS = "(ms|s|m|h|d|w)";
const MULTILINE = new Set(["prompt", "system", "description", "body", "content", "value", "expression", "items"]);

function resolve(schema: JsonSchema, root: JsonSchema): JsonSchema {
  const ref = schema.$ref;
  if (typeof ref === "string" && ref.startsWith("#/")) {
    let target: unknown = root;
    for (const part of ref.slice(2).split("/")) target = (target as Record<string, unknown> | undefined)?.[part];
    if (target && typeof target === "object") return { ...(target as JsonSchema), ...withoutRef(schema) };
  }
  return schema;
}

function withoutRef(schema: JsonSchema): JsonSchema {
  const { $ref: _ref, ...rest } = schema;
  return rest;
}

/** `anyOf: [X, {type: null}]` → (X, nullable). */
function unwrapNullable(schema: JsonSchema, root: JsonSchema): { schema: JsonSchema; nullable: boolean } {
  const options = (schema.anyOf ?? schema.oneOf) as JsonSchema[] | undefined;
  if (Array.isArray(options)) {
    const real = options.filter((option) => option.type !== "null");
    if (real.length === 1 && real.length < options.length) {
      const { anyOf: _a, oneOf: _o, ...rest } = schema;
      return { schema: { ...resolve(real[0] as JsonSchema, root), ...rest }, nullable: true };
    }
  }
  const type = schema.type;
  if (Array.isArray(type) && type.includes("null")) {
    const others = type.filter((t) => t !== "null");
    return { schema: { ...schema, type: others.length === 1 ? others[0] : others }, nullable: true };
  }
  return { schema, nullable: false };
}

function humanize(name: string): string {
  const words = name.replace(/_/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function isDuration(schema: JsonSchema): boolean {
  return typeof schema.pattern === "string" && schema.pattern.includes(DURATION_UNITS);
}

export function fieldOf(
  name: string,
  raw: JsonSchema,
  root: JsonSchema,
  options: { path: string; required: boolean; template?: boolean; expression?: boolean },
): FieldSpec {
  const { schema, nullable } = unwrapNullable(resolve(raw, root), root);
  // pydantic titles every field after its name ("On Error"); only a chosen title is kept.
  const automatic = name.split("_").map((word) => word.charAt(0).toUpperCase() + word.slice(1)).join(" ");
  const title = typeof raw.title === "string" && raw.title !== automatic ? raw.title : undefined;
  const spec: FieldSpec = {
    name,
    path: options.path,
    label: title ?? humanize(name),
    required: options.required,
    nullable,
    kind: "json",
  };
  if (options.template) spec.template = true;
  const description = typeof raw.description === "string" ? raw.description : schema.description;
  if (typeof description === "string" && !schema.$defs) spec.description = description;
  if ("default" in schema && schema.default !== null) spec.default = schema.default;
  if (typeof schema.minimum === "number") spec.minimum = schema.minimum;
  if (typeof schema.maximum === "number") spec.maximum = schema.maximum;
  const type = schema.type;
  if (Array.isArray(schema.enum)) {
    spec.kind = "select";
    spec.options = schema.enum as (string | number)[];
  } else if ("const" in schema) {
    spec.kind = "select";
    spec.options = [schema.const as string];
  } else if (type === "string") {
    if (options.expression) spec.kind = "expression";
    else if (isDuration(schema)) spec.kind = "duration";
    else if (options.template) spec.kind = "template";
    else spec.kind = "text";
    if (schema.format === "date-time") spec.description ??= "ISO 8601 date and time";
    spec.multiline = MULTILINE.has(name) || schema.format === "textarea";
  } else if (type === "integer" || type === "number") {
    spec.kind = type;
  } else if (type === "boolean") {
    spec.kind = "boolean";
  } else if (type === "array" && schema.items && typeof schema.items === "object") {
    spec.kind = "list";
    spec.item = fieldOf("item", schema.items as JsonSchema, root, {
      path: `${options.path}[]`,
      required: true,
      template: options.template,
    });
  } else if (type === "object" || schema.properties) {
    const properties = schema.properties as Record<string, JsonSchema> | undefined;
    const extra = schema.additionalProperties;
    if (properties && Object.keys(properties).length > 0) {
      spec.kind = "object";
      spec.fields = fieldsOf(schema, root, options.path, { templates: options.template ? Object.keys(properties) : [] });
    } else if (extra && typeof extra === "object" && (extra as JsonSchema).type === "string") {
      spec.kind = "map";
      spec.value = fieldOf("value", extra as JsonSchema, root, {
        path: `${options.path}[]`,
        required: true,
        template: options.template,
      });
    }
  }
  return spec;
}

/** The fields of an object schema, in its declared order. */
export function fieldsOf(schema: JsonSchema, root: JsonSchema = schema, prefix = "", context: FormContext = {}): FieldSpec[] {
  const resolved = resolve(schema, root);
  const properties = (resolved.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((resolved.required as string[] | undefined) ?? []);
  return Object.entries(properties).map(([name, property]) =>
    fieldOf(name, property, root, {
      path: prefix ? `${prefix}.${name}` : name,
      required: required.has(name),
      template: context.templates?.includes(name),
      expression: context.expressions?.includes(name),
    }),
  );
}

/** The form of a node kind's config: paths start at `config`, like validation errors. */
export function kindFields(kindSchema: JsonSchema): FieldSpec[] {
  const meta = (kindSchema["x-auterity"] ?? {}) as FormContext;
  return fieldsOf(kindSchema, kindSchema, "config", meta);
}

export const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$/;

/** A problem the form can see before the API does, or null. */
export function localProblem(spec: FieldSpec, value: unknown): string | null {
  const empty = value === undefined || value === null || value === "";
  if (empty) return spec.required && !spec.nullable && spec.default === undefined ? "required" : null;
  if (spec.kind === "duration" && typeof value === "string" && !DURATION.test(value)) {
    return "a duration like 500ms, 30s, 5m, 1h30m or 3d";
  }
  if ((spec.kind === "number" || spec.kind === "integer") && typeof value === "number") {
    if (spec.kind === "integer" && !Number.isInteger(value)) return "a whole number";
    if (spec.minimum !== undefined && value < spec.minimum) return `at least ${spec.minimum}`;
    if (spec.maximum !== undefined && value > spec.maximum) return `at most ${spec.maximum}`;
  }
  return null;
}

/** Values for a form: the schema's defaults where `current` has nothing. */
export function withDefaults(fields: FieldSpec[], current: Record<string, unknown> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = { ...current };
  for (const field of fields) if (out[field.name] === undefined && field.default !== undefined) out[field.name] = field.default;
  return out;
}

/** A copy of `target` with `value` at `key`; undefined removes the key (optional fields unset). */
export function assign(target: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  const out = { ...target };
  if (value === undefined) delete out[key];
  else out[key] = value;
  return out;
}
