/** /resume?token=… — deciding a task through a signed link, without an account. */
import { useSearchParams } from "react-router-dom";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../api/client";
import type { TaskRead } from "../api/types";
import { TaskForm, type Decision } from "../components/TaskForm";
import { ErrorBox, Spinner } from "../components/ui";

export function ResumePage() {
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const queries = useQueryClient();
  const task = useQuery({
    queryKey: ["resume", token],
    enabled: token.length >= 20,
    queryFn: () => api.get<TaskRead>(`/v1/tasks/resume?token=${encodeURIComponent(token)}`, { anonymous: true }),
  });
  const decide = useMutation({
    mutationFn: (decision: Decision) => api.post<TaskRead>("/v1/tasks/resume", { token, ...decision }, { anonymous: true }),
    onSuccess: (done) => queries.setQueryData(["resume", token], done),
  });
  return (
    <main className="min-h-full bg-slate-100 p-3 sm:p-8">
      <div className="mx-auto max-w-xl rounded-xl bg-white p-5 shadow-sm">
        <div className="mb-4 flex items-center gap-2 text-sm text-slate-600">
          <img src="/favicon.svg" alt="" className="h-5 w-5" /> Auterity · a decision is asked of you
        </div>
        {token.length < 20 ? <ErrorBox error={new Error("This link is incomplete: it has no token. Open the whole link you were sent.")} /> : null}
        <ErrorBox error={task.error} />
        {task.isPending && token.length >= 20 ? <Spinner /> : null}
        {task.data ? (
          <TaskForm
            task={task.data}
            outcomes={["approved", "rejected"]}
            busy={decide.isPending}
            error={decide.error}
            onDecide={(decision) => decide.mutate(decision)}
          />
        ) : null}
      </div>
    </main>
  );
}
