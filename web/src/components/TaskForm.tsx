/** Deciding a human task: its form (generated from the task's JSON Schema), a comment, and
 * one button per outcome. Shared by the inbox and the resume-link page. */
import { useMemo, useState } from "react";
import { ApiError } from "../api/client";
import type { TaskRead } from "../api/types";
import type { JsonSchema } from "../lib/graph";
import { issuesOf } from "../lib/problems";
import { fieldsOf, withDefaults } from "../lib/schemaForm";
import { SchemaForm } from "./SchemaForm";
import { Button, ErrorBox, StatusBadge, formatTime } from "./ui";

export interface Decision {
  decision: string;
  comment: string | null;
  data: Record<string, unknown>;
}

export function TaskForm({
  task,
  outcomes,
  onDecide,
  busy,
  error,
}: {
  task: TaskRead;
  outcomes: string[];
  onDecide: (decision: Decision) => void;
  busy: boolean;
  error: unknown;
}) {
  const fields = useMemo(() => fieldsOf((task.form as JsonSchema) ?? { type: "object" }), [task.form]);
  const [data, setData] = useState<Record<string, unknown>>(() => withDefaults(fields));
  const [comment, setComment] = useState("");
  const issues = error instanceof ApiError ? issuesOf(error.problem).graph.map((issue) => ({ ...issue, field: issue.field.replace(/^data\.?/, "") })) : undefined;
  const pending = task.status === "pending";
  return (
    <div className="space-y-4">
      <div>
        <div className="flex flex-wrap items-center gap-2">
          <h1 className="text-lg font-semibold">{task.title}</h1>
          <StatusBadge status={task.decision ?? task.status} />
        </div>
        {task.description ? <p className="mt-1 whitespace-pre-wrap text-sm text-slate-700">{task.description}</p> : null}
        <p className="mt-1 text-xs text-slate-600">
          Assigned to {task.assignees.join(", ")} · opened {formatTime(task.created_at as string)}
          {task.due_at ? ` · due ${formatTime(task.due_at as string)}` : ""}
        </p>
      </div>
      {pending ? (
        <form
          onSubmit={(event) => event.preventDefault()}
          className="space-y-3"
          aria-label="Decision"
        >
          {fields.length ? <SchemaForm fields={fields} values={data} onChange={setData} issues={issues} /> : null}
          <div>
            <label htmlFor="task-comment" className="mb-1 block text-xs font-semibold text-slate-800">
              Comment
            </label>
            <textarea id="task-comment" rows={3} value={comment} onChange={(event) => setComment(event.target.value)} className="w-full rounded-md border border-slate-300 px-2 py-1.5 text-sm" />
          </div>
          <ErrorBox error={error} />
          <div className="flex flex-wrap gap-2">
            {outcomes.map((outcome, index) => (
              <Button
                key={outcome}
                tone={index === 0 ? "primary" : /reject|deny|decline/.test(outcome) ? "danger" : "secondary"}
                disabled={busy}
                className="min-w-28 flex-1 sm:flex-none"
                onClick={() => onDecide({ decision: outcome, comment: comment.trim() || null, data })}
              >
                {outcome.charAt(0).toUpperCase() + outcome.slice(1)}
              </Button>
            ))}
          </div>
        </form>
      ) : (
        <div className="rounded-md bg-slate-50 p-3 text-sm text-slate-800">
          Decided <strong>{task.decision}</strong> by {task.completed_by ?? "someone"} on {formatTime(task.completed_at as string)}.
          {task.comment ? <p className="mt-1 italic">“{task.comment}”</p> : null}
        </div>
      )}
    </div>
  );
}
