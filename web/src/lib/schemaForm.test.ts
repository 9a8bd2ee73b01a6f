import { describe, expect, it } from "vitest";
import kinds from "./fixtures/node-kinds.json";
import { fieldsOf, kindFields, localProblem, type FieldSpec } from "./schemaForm";
import type { JsonSchema } from "./graph";

const byName = (fields: FieldSpec[]) => Object.fromEntries(fields.map((field) => [field.name, field]));

describe("node kind schema → form", () => {
  it("http: templates, durations, maps, lists and free JSON", () => {
    const fields = byName(kindFields(kinds.http as JsonSchema));
    expect(fields.url).toMatchObject({ kind: "template", required: true, path: "config.url" });
    expect(fields.method).toMatchObject({ kind: "template", default: "GET" });
    expect(fields.timeout).toMatchObject({ kind: "duration", nullable: true, required: false });
    expect(fields.headers).toMatchObject({ kind: "map" });
    expect(fields.headers?.value?.kind).toBe("template");
    expect(fields.expect_status).toMatchObject({ kind: "list", nullable: true });
    expect(fields.expect_status?.item?.kind).toBe("integer");
    expect(fields.json?.kind).toBe("json");
  });

  it("merge and condition: enums become selects, expressions are marked", () => {
    expect(byName(kindFields(kinds.merge as JsonSchema)).mode).toMatchObject({ kind: "select", options: ["all", "any"], default: "all" });
    expect(byName(kindFields(kinds.condition as JsonSchema)).expression).toMatchObject({ kind: "expression", required: true });
  });

  it("approval: booleans, lists of text, nested JSON Schema", () => {
    const fields = byName(kindFields(kinds.approval as JsonSchema));
    expect(fields.allow_starter).toMatchObject({ kind: "boolean", default: true });
    expect(fields.outcomes?.kind).toBe("list");
    expect(fields.outcomes?.item?.kind).toBe("text");
    expect(fields.assignees?.item?.kind).toBe("template");
    expect(fields.form?.kind).toBe("json");
  });

  it("foreach: a nested object through $ref, with its own nested retry policy", () => {
    const fields = byName(kindFields(kinds.foreach as JsonSchema));
    expect(fields.items?.kind).toBe("expression");
    expect(fields.concurrency).toMatchObject({ kind: "integer", minimum: 1, maximum: 500 });
    const node = byName(fields.node?.fields ?? []);
    expect(fields.node?.kind).toBe("object");
    expect(node.execution).toMatchObject({ kind: "select", options: ["activity", "local"], nullable: true, path: "config.node.execution" });
    expect(node.retry?.kind).toBe("object");
    expect(byName(node.retry?.fields ?? []).initial_interval?.kind).toBe("duration");
  });
});

describe("inputs schema → run form", () => {
  it("covers strings, numbers, booleans, enums and required", () => {
    const fields = byName(
      fieldsOf({
        type: "object",
        required: ["url"],
        properties: {
          url: { type: "string", description: "what to fetch" },
          count: { type: "integer", minimum: 1 },
          deep: { type: "boolean" },
          tone: { enum: ["short", "long"] },
          tags: { type: "array", items: { type: "string" } },
        },
      }),
    );
    expect(fields.url).toMatchObject({ kind: "text", required: true, path: "url", description: "what to fetch" });
    expect(fields.count?.kind).toBe("integer");
    expect(fields.deep?.kind).toBe("boolean");
    expect(fields.tone).toMatchObject({ kind: "select", options: ["short", "long"] });
    expect(fields.tags?.item?.kind).toBe("text");
  });
});

describe("local problems", () => {
  it("catches bad durations, bounds and missing required values", () => {
    const [timeout] = kindFields({ properties: { timeout: { type: "string", pattern: "^(?:(\\d+(?:\\.\\d+)?)(ms|s|m|h|d|w))+$" } } });
    expect(localProblem(timeout as FieldSpec, "5 minutes")).toMatch(/duration/);
    expect(localProblem(timeout as FieldSpec, "1h30m")).toBeNull();
    const [count] = fieldsOf({ properties: { count: { type: "integer", minimum: 1 } }, required: ["count"] });
    expect(localProblem(count as FieldSpec, 0)).toBe("at least 1");
    expect(localProblem(count as FieldSpec, undefined)).toBe("required");
  });
});
