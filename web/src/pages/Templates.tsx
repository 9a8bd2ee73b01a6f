import { useMemo, useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { useMutation, useQuery } from "@tanstack/react-query";
import { ApiError, api } from "../api/client";
import type { GraphRead, TemplateRead } from "../api/types";
import type { GraphDefinition, JsonSchema } from "../lib/graph";
import { issuesOf } from "../lib/problems";
import { fieldsOf, withDefaults } from "../lib/schemaForm";
import { StaticCanvas } from "../canvas/StaticCanvas";
import { SchemaForm } from "../components/SchemaForm";
import { Button, Empty, ErrorBox, PageHeader, Spinner } from "../components/ui";

export function TemplatesPage() {
  const templates = useQuery({ queryKey: ["templates"], queryFn: () => api.get<TemplateRead[]>("/v1/templates") });
  return (
    <div className="mx-auto max-w-6xl p-4 sm:p-6">
      <PageHeader title="Templates" subtitle="Start from a working graph: fill in its parameters, and it opens on the canvas." />
      <ErrorBox error={templates.error} />
      {templates.isPending ? <Spinner /> : null}
      {templates.data?.length === 0 ? <Empty>No templates.</Empty> : null}
      <ul className="grid gap-3 sm:grid-cols-2 lg:grid-cols-3">
        {templates.data?.map((template) => (
          <li key={template.id} className="flex flex-col rounded-lg border border-slate-200 bg-white p-4">
            <h2 className="font-semibold">
              <Link to={`/templates/${template.id}`} className="text-indigo-700 hover:underline">
                {template.name}
              </Link>
            </h2>
            <p className="mt-1 flex-1 text-sm text-slate-700">{template.description}</p>
            <div className="mt-3 flex flex-wrap gap-1 text-xs">
              {template.builtin ? <span className="rounded bg-slate-100 px-1.5 py-0.5 text-slate-700">built-in</span> : null}
              {template.tags?.map((tag) => (
                <span key={tag} className="rounded bg-indigo-50 px-1.5 py-0.5 text-indigo-800">
                  {tag}
                </span>
              ))}
              <span className="ml-auto text-slate-600">v{template.version}</span>
            </div>
          </li>
        ))}
      </ul>
    </div>
  );
}

export function TemplatePage() {
  const { templateId = "" } = useParams();
  const navigate = useNavigate();
  const template = useQuery({ queryKey: ["template", templateId], queryFn: () => api.get<TemplateRead>(`/v1/templates/${templateId}`) });
  const fields = useMemo(() => fieldsOf((template.data?.parameters as JsonSchema | undefined) ?? { type: "object" }), [template.data]);
  const [params, setParams] = useState<Record<string, unknown> | null>(null);
  const values = params ?? withDefaults(fields);
  const instantiate = useMutation({
    mutationFn: () => api.post<GraphRead>(`/v1/templates/${templateId}/instantiate`, { params: values }),
    onSuccess: (graph) => navigate(`/graphs/${graph.id}`),
  });
  const issues = instantiate.error instanceof ApiError ? issuesOf(instantiate.error.problem).graph.map((issue) => ({ ...issue, field: issue.field.replace(/^params\.?/, "") })) : undefined;
  if (template.error) return <div className="p-6"><ErrorBox error={template.error} /></div>;
  if (!template.data) return <div className="p-6"><Spinner /></div>;
  const preview = template.data.graph as unknown as GraphDefinition | undefined;
  return (
    <div className="mx-auto max-w-6xl p-4 sm:p-6">
      <PageHeader title={template.data.name} subtitle={template.data.description}>
        <Link to="/templates" className="text-sm text-indigo-700 underline">
          All templates
        </Link>
      </PageHeader>
      <div className="grid gap-4 lg:grid-cols-[1fr_22rem]">
        <div className="h-[420px] overflow-hidden rounded-lg border border-slate-200 bg-white">{preview ? <StaticCanvas definition={preview} /> : null}</div>
        <form
          className="rounded-lg border border-slate-200 bg-white p-4"
          onSubmit={(event) => {
            event.preventDefault();
            instantiate.mutate();
          }}
        >
          <h2 className="mb-3 font-semibold">Parameters</h2>
          {fields.length ? <SchemaForm fields={fields} values={values} onChange={setParams} issues={issues} /> : <p className="text-sm text-slate-600">This template has no parameters.</p>}
          <div className="mt-3">
            <ErrorBox error={instantiate.error} />
          </div>
          <Button tone="primary" type="submit" className="mt-3 w-full" disabled={instantiate.isPending}>
            {instantiate.isPending ? "Creating…" : "Create graph from template"}
          </Button>
        </form>
      </div>
    </div>
  );
}
