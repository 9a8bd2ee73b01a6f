import { useState } from "react";
import { Link, useParams } from "react-router-dom";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../api/client";
import { useMe } from "../api/hooks";
import type { ExecutionRead, ResumeLink, TaskRead } from "../api/types";
import { TaskForm, type Decision } from "../components/TaskForm";
import { Button, Copyable, Empty, ErrorBox, PageHeader, Spinner, StatusBadge, TextField, formatTime } from "../components/ui";

type Scope = "mine" | "roles" | "all";

export function InboxPage() {
  const me = useMe();
  const [status, setStatus] = useState("pending");
  const [scope, setScope] = useState<Scope>("all");
  const tasks = useQuery({
    queryKey: ["tasks", status],
    queryFn: () => api.get<TaskRead[]>(`/v1/tasks?status=${status}`),
    refetchInterval: 5000,
  });
  const myUser = me.data ? `user:${me.data.name}` : "";
  const myRoles = new Set((me.data?.roles ?? []).map((role) => `role:${role}`));
  const shown = (tasks.data ?? []).filter((task) =>
    scope === "all" ? true : scope === "mine" ? task.assignees.includes(myUser) : task.assignees.some((a) => myRoles.has(a)),
  );
  return (
    <div className="mx-auto max-w-3xl p-3 sm:p-6">
      <PageHeader title="Inbox" subtitle="Approvals waiting for you or one of your roles." />
      <div className="mb-3 flex flex-wrap items-center gap-2">
        <div role="group" aria-label="Whose tasks" className="flex rounded-md border border-slate-300 bg-white p-0.5">
          {(["all", "mine", "roles"] as Scope[]).map((value) => (
            <button
              key={value}
              type="button"
              aria-pressed={scope === value}
              onClick={() => setScope(value)}
              className={`rounded px-2.5 py-1 text-sm ${scope === value ? "bg-indigo-600 text-white" : "text-slate-700"}`}
            >
              {value === "all" ? "All I can decide" : value === "mine" ? "Assigned to me" : "My roles"}
            </button>
          ))}
        </div>
        <label htmlFor="task-status" className="sr-only">
          Status
        </label>
        <select id="task-status" value={status} onChange={(event) => setStatus(event.target.value)} className="rounded-md border border-slate-300 bg-white px-2 py-1 text-sm">
          <option value="pending">pending</option>
          <option value="completed">completed</option>
          <option value="timed_out">timed out</option>
          <option value="cancelled">cancelled</option>
        </select>
      </div>
      <ErrorBox error={tasks.error} />
      {tasks.isPending ? <Spinner /> : null}
      {tasks.data && shown.length === 0 ? <Empty>Nothing {status === "pending" ? "waiting" : status} here.</Empty> : null}
      <ul className="space-y-2">
        {shown.map((task) => (
          <li key={task.id}>
            <Link to={`/tasks/${task.id}`} className="block rounded-lg border border-slate-200 bg-white p-3 hover:border-indigo-300">
              <div className="flex items-start justify-between gap-2">
                <span className="font-medium text-slate-900">{task.title}</span>
                <StatusBadge status={task.decision ?? task.status} />
              </div>
              {task.description ? <p className="mt-1 line-clamp-2 text-sm text-slate-700">{task.description}</p> : null}
              <p className="mt-1 text-xs text-slate-600">
                {task.assignees.join(", ")} · {formatTime(task.created_at as string)}
                {task.due_at ? ` · due ${formatTime(task.due_at as string)}` : ""}
              </p>
            </Link>
          </li>
        ))}
      </ul>
    </div>
  );
}

export function TaskPage() {
  const { taskId = "" } = useParams();
  const queries = useQueryClient();
  const task = useQuery({ queryKey: ["task", taskId], queryFn: () => api.get<TaskRead>(`/v1/tasks/${taskId}`) });
  const run = useQuery({
    queryKey: ["run", task.data?.execution_id],
    enabled: Boolean(task.data?.execution_id),
    queryFn: () => api.get<ExecutionRead>(`/v1/executions/${encodeURIComponent(task.data?.execution_id ?? "")}`),
  });
  const pending = (run.data?.tasks ?? []).find((entry) => (entry as { task_id?: string }).task_id === taskId) as { outcomes?: string[] } | undefined;
  const outcomes = pending?.outcomes ?? ["approved", "rejected"];
  const complete = useMutation({
    mutationFn: (decision: Decision) => api.post<TaskRead>(`/v1/tasks/${taskId}/complete`, decision),
    onSuccess: (done) => {
      queries.setQueryData(["task", taskId], done);
      void queries.invalidateQueries({ queryKey: ["tasks"] });
    },
  });
  if (task.error) return <div className="p-6"><ErrorBox error={task.error} /></div>;
  if (!task.data) return <div className="p-6"><Spinner /></div>;
  return (
    <div className="mx-auto max-w-2xl space-y-4 p-3 sm:p-6">
      <Link to="/tasks" className="text-sm text-indigo-700 underline">
        ← Inbox
      </Link>
      <div className="rounded-lg border border-slate-200 bg-white p-4">
        <TaskForm task={task.data} outcomes={outcomes} busy={complete.isPending} error={complete.error} onDecide={(decision) => complete.mutate(decision)} />
      </div>
      <p className="text-sm">
        <Link to={`/runs/${encodeURIComponent(task.data.execution_id)}`} className="text-indigo-700 underline">
          Open the run
        </Link>{" "}
        · node <span className="font-mono">{task.data.node_id}</span>
      </p>
      {task.data.status === "pending" ? <ResumeLinkForm taskId={taskId} /> : null}
    </div>
  );
}

function ResumeLinkForm({ taskId }: { taskId: string }) {
  const [email, setEmail] = useState("");
  const [expires, setExpires] = useState("3d");
  const create = useMutation({
    mutationFn: () => api.post<ResumeLink>(`/v1/tasks/${taskId}/resume-links`, { assignee: `user:${email.trim()}`, expires_in: expires }),
  });
  return (
    <details className="rounded-lg border border-slate-200 bg-white p-4">
      <summary className="cursor-pointer text-sm font-medium">Send a link to someone without an account</summary>
      <form
        className="mt-3"
        onSubmit={(event) => {
          event.preventDefault();
          create.mutate();
        }}
      >
        <TextField label="Their email" type="email" value={email} onChange={setEmail} required />
        <TextField label="Expires in" value={expires} onChange={setExpires} hint="a duration such as 2d or 12h" />
        <ErrorBox error={create.error} />
        <Button type="submit" tone="primary" disabled={create.isPending || !email.trim()}>
          Create link
        </Button>
      </form>
      {create.data ? (
        <div className="mt-3">
          <Copyable label="Link (shown once; anyone holding it can decide until it expires)" value={`${location.origin}/resume?token=${encodeURIComponent(create.data.token)}`} />
          <p className="text-xs text-slate-600">Expires {formatTime(create.data.expires_at)}.</p>
        </div>
      ) : null}
    </details>
  );
}
