/** Start a run: a form generated from the graph's inputs schema (or raw JSON). */
import { useMemo, useState } from "react";
import { useNavigate } from "react-router-dom";
import { useMutation } from "@tanstack/react-query";
import { api } from "../api/client";
import type { ExecutionStarted } from "../api/types";
import type { JsonSchema } from "../lib/graph";
import { issuesOf } from "../lib/problems";
import { fieldsOf, withDefaults } from "../lib/schemaForm";
import { JsonControl, SchemaForm } from "../components/SchemaForm";
import { Button, Dialog, ErrorBox } from "../components/ui";
import { ApiError } from "../api/client";

export function RunDialog({ graphId, inputs, onClose }: { graphId: string; inputs: JsonSchema | undefined; onClose: () => void }) {
  const fields = useMemo(() => fieldsOf(inputs ?? { type: "object" }), [inputs]);
  const [values, setValues] = useState<Record<string, unknown>>(() => withDefaults(fields));
  const [raw, setRaw] = useState(fields.length === 0);
  const navigate = useNavigate();
  const [idempotencyKey] = useState(() => crypto.randomUUID());
  const start = useMutation({
    mutationFn: () =>
      api.post<ExecutionStarted>(`/v1/graphs/${graphId}/executions`, { inputs: values }, { headers: { "Idempotency-Key": idempotencyKey } }),
    onSuccess: (started) => navigate(`/runs/${encodeURIComponent(started.id)}`),
  });
  const problem = start.error instanceof ApiError && start.error.status === 422 ? issuesOf(start.error.problem) : null;
  const issues = problem ? [...problem.graph].map((issue) => ({ ...issue, field: issue.field.replace(/^inputs\.?/, "") })) : undefined;
  return (
    <Dialog title="Run the graph" onClose={onClose}>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          start.mutate();
        }}
      >
        <div className="mb-2 flex items-center justify-between">
          <p className="text-sm text-slate-700">{fields.length ? "Inputs of this run:" : "This graph declares no inputs."}</p>
          {fields.length ? (
            <Button small tone="ghost" onClick={() => setRaw(!raw)}>
              {raw ? "Form" : "JSON"}
            </Button>
          ) : null}
        </div>
        {raw ? (
          <JsonControl id="run-inputs" rows={8} value={values} invalid={false} onChange={(value) => setValues((value as Record<string, unknown>) ?? {})} />
        ) : (
          <SchemaForm fields={fields} values={values} onChange={setValues} issues={issues} />
        )}
        <div className="mt-3">
          <ErrorBox error={start.error} />
        </div>
        <div className="mt-4 flex justify-end gap-2">
          <Button onClick={onClose}>Cancel</Button>
          <Button tone="primary" type="submit" disabled={start.isPending}>
            {start.isPending ? "Starting…" : "Start run"}
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
