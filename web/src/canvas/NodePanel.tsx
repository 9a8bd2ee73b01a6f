/** The side panel of one node: its id and label, a config form generated from its kind's
 * JSON Schema, and the settings every node has (retry, timeout, on_error, execution),
 * generated from the graph schema's `Node`. Problems show under the field they name. */
import { useMemo, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { api } from "../api/client";
import type { NodeKinds } from "../api/hooks";
import { NODE_ID, type GraphNode, type JsonSchema } from "../lib/graph";
import { describe, unclaimed, type Issue } from "../lib/problems";
import { fieldsOf, kindFields, type FieldSpec } from "../lib/schemaForm";
import { SchemaForm } from "../components/SchemaForm";
import { Button } from "../components/ui";
import { lookOf } from "./kinds";

const COMMON = ["retry", "timeout", "on_error", "execution"];

export function useGraphSchema() {
  return useQuery({ queryKey: ["graph-schema"], queryFn: () => api.get<JsonSchema>("/v1/schema/graph"), staleTime: Infinity });
}

function commonFields(graphSchema: JsonSchema | undefined, local: boolean): FieldSpec[] {
  const defs = (graphSchema?.$defs ?? {}) as Record<string, JsonSchema>;
  const node = defs.Node;
  if (!node) return [];
  return fieldsOf(node, graphSchema as JsonSchema)
    .filter((field) => COMMON.includes(field.name))
    .filter((field) => field.name !== "execution" || local);
}

export function NodePanel({
  node,
  kinds,
  issues,
  readOnly,
  takenIds,
  onChange,
  onRename,
  onDelete,
}: {
  node: GraphNode;
  kinds: NodeKinds;
  issues?: Issue[];
  readOnly?: boolean;
  takenIds: string[];
  onChange: (node: GraphNode, key: string) => void;
  onRename: (id: string) => void;
  onDelete: () => void;
}) {
  const kind = kinds[node.type];
  const graphSchema = useGraphSchema();
  const meta = (kind?.["x-auterity"] ?? {}) as { local?: boolean; runs_as?: string };
  const configFields = useMemo(() => (kind ? kindFields(kind) : []), [kind]);
  const common = useMemo(() => commonFields(graphSchema.data, Boolean(meta.local)), [graphSchema.data, meta.local]);
  const [id, setId] = useState(node.id);
  const idProblem = id === node.id ? null : !NODE_ID.test(id) ? "letters, digits and _, not starting with a digit" : takenIds.includes(id) ? "another node has this id" : null;
  const paths = [...configFields.map((field) => field.path), ...common.map((field) => field.path), "config", "id", "label", "type"];
  const loose = unclaimed(issues, paths);
  const look = lookOf(node.type);
  const idIssues = (issues ?? []).filter((issue) => issue.field === "id" || issue.field === "type");
  const configIssues = (issues ?? []).filter((issue) => issue.field === "config");
  const commonValues = { retry: node.retry, timeout: node.timeout, on_error: node.on_error, execution: node.execution } as Record<string, unknown>;

  return (
    <div className="space-y-4" data-node-panel={node.id}>
      <div className="flex items-center gap-2">
        <span className={`rounded px-1.5 py-0.5 text-[10px] font-bold text-white ${look.color}`}>{look.tag}</span>
        <h2 className="text-sm font-semibold">{look.title}</h2>
        <span className="ml-auto text-xs text-slate-600">{meta.runs_as ? `runs as ${meta.runs_as.replace("_", " ")}` : null}</span>
      </div>
      {typeof kind?.description === "string" ? <p className="text-xs leading-5 text-slate-600">{kind.description}</p> : null}
      {!kind ? <p className="text-sm text-red-700">Unknown node kind “{node.type}”.</p> : null}
      {[...loose, ...idIssues, ...configIssues].length ? (
        <ul role="alert" className="space-y-1 rounded-md bg-red-50 p-2 text-xs text-red-800">
          {[...idIssues, ...configIssues, ...loose].map((issue, index) => (
            <li key={index}>
              <span className="font-mono">{issue.field}</span>: {describe(issue)}
            </li>
          ))}
        </ul>
      ) : null}
      <div>
        <label htmlFor="node-id" className="mb-1 block text-xs font-semibold text-slate-800">
          Id <span className="font-normal text-slate-600">(expressions read it as nodes.{node.id})</span>
        </label>
        <div className="flex gap-1">
          <input
            id="node-id"
            value={id}
            readOnly={readOnly}
            aria-invalid={idProblem ? true : undefined}
            onChange={(event) => setId(event.target.value)}
            onKeyDown={(event) => {
              if (event.key === "Enter" && !idProblem && id !== node.id) onRename(id);
            }}
            className={`w-full rounded-md border px-2 py-1.5 font-mono text-sm ${idProblem ? "border-red-500" : "border-slate-300"}`}
          />
          {id !== node.id && !readOnly ? (
            <Button small disabled={Boolean(idProblem)} onClick={() => onRename(id)}>
              Rename
            </Button>
          ) : null}
        </div>
        {idProblem ? <p className="mt-0.5 text-xs text-red-700">{idProblem}</p> : null}
      </div>
      <div>
        <label htmlFor="node-label" className="mb-1 block text-xs font-semibold text-slate-800">
          Label
        </label>
        <input
          id="node-label"
          value={node.label ?? ""}
          readOnly={readOnly}
          placeholder={node.id}
          onChange={(event) => onChange({ ...node, label: event.target.value || null }, `${node.id}.label`)}
          className="w-full rounded-md border border-slate-300 px-2 py-1.5 text-sm"
        />
      </div>
      <section aria-label="Configuration">
        <h3 className="mb-2 border-b border-slate-200 pb-1 text-xs font-semibold uppercase tracking-wide text-slate-600">Configuration</h3>
        <SchemaForm
          fields={configFields}
          values={node.config}
          issues={issues}
          readOnly={readOnly}
          onChange={(config) => onChange({ ...node, config }, `${node.id}.config`)}
        />
      </section>
      <section aria-label="Settings">
        <h3 className="mb-2 border-b border-slate-200 pb-1 text-xs font-semibold uppercase tracking-wide text-slate-600">
          Retry, timeout and errors
        </h3>
        <SchemaForm
          fields={common}
          values={commonValues}
          issues={issues}
          readOnly={readOnly}
          onChange={(values) =>
            onChange(
              {
                ...node,
                retry: (values.retry as GraphNode["retry"]) ?? null,
                timeout: (values.timeout as string | undefined) ?? null,
                on_error: (values.on_error as GraphNode["on_error"]) ?? "fail",
                execution: (values.execution as GraphNode["execution"]) ?? null,
              },
              `${node.id}.settings`,
            )
          }
        />
      </section>
      {!readOnly ? (
        <Button tone="danger" small onClick={onDelete}>
          Delete node
        </Button>
      ) : null}
    </div>
  );
}
