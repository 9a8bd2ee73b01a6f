import { useState } from "react";
import { Link } from "react-router-dom";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/client";
import { useCan } from "../../api/hooks";
import type { GraphRead, ScheduleRead, TriggerCreated, TriggerRead } from "../../api/types";
import { JsonControl } from "../../components/SchemaForm";
import { Button, Copyable, Dialog, Empty, ErrorBox, PageHeader, Spinner, StatusBadge, Table, TextField, formatTime } from "../../components/ui";

function useGraphs() {
  return useQuery({ queryKey: ["graphs", ""], queryFn: () => api.get<GraphRead[]>("/v1/graphs?limit=200") });
}

function GraphSelect({ value, onChange }: { value: string; onChange: (id: string) => void }) {
  const graphs = useGraphs();
  return (
    <div className="mb-3">
      <label htmlFor="pick-graph" className="mb-1 block text-sm font-medium text-slate-800">
        Graph <span className="text-red-700">*</span>
      </label>
      <select id="pick-graph" value={value} required onChange={(event) => onChange(event.target.value)} className="w-full rounded-md border border-slate-300 bg-white px-2 py-1.5 text-sm">
        <option value="">Choose a graph…</option>
        {graphs.data?.map((graph) => (
          <option key={graph.id} value={graph.id}>
            {graph.name} (v{graph.version})
          </option>
        ))}
      </select>
    </div>
  );
}

export function TriggersPage() {
  const queries = useQueryClient();
  const triggers = useQuery({ queryKey: ["triggers"], queryFn: () => api.get<{ items: TriggerRead[] }>("/v1/triggers") });
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState<TriggerCreated | null>(null);
  const patch = useMutation({
    mutationFn: ({ id, enabled }: { id: string; enabled: boolean }) => api.patch(`/v1/triggers/${id}`, { enabled }),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ["triggers"] }),
  });
  const rotate = useMutation({
    mutationFn: (id: string) => api.post<TriggerCreated>(`/v1/triggers/${id}/rotate-secret`),
    onSuccess: setSecret,
  });
  const remove = useMutation({
    mutationFn: (id: string) => api.delete(`/v1/triggers/${id}`),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ["triggers"] }),
  });
  return (
    <div>
      <PageHeader title="Webhooks" subtitle="Each trigger has a URL; deliveries are HMAC-signed with its secret (shown once).">
        <Button tone="primary" onClick={() => setCreating(true)}>
          New webhook
        </Button>
      </PageHeader>
      <ErrorBox error={triggers.error ?? patch.error ?? rotate.error ?? remove.error} />
      {triggers.isPending ? <Spinner /> : null}
      {triggers.data?.items.length === 0 ? <Empty>No webhooks.</Empty> : null}
      {triggers.data?.items.length ? (
        <Table label="Webhooks" head={["Name", "Graph", "URL", "State", ""]}>
          {triggers.data.items.map((trigger) => (
            <tr key={trigger.id}>
              <td className="px-3 py-2">{trigger.name}</td>
              <td className="px-3 py-2">
                <Link to={`/graphs/${trigger.graph_id}`} className="text-indigo-700 hover:underline">
                  {trigger.graph_id}
                </Link>
                {trigger.version_id ? <div className="text-xs text-slate-600">pinned</div> : null}
              </td>
              <td className="max-w-xs truncate px-3 py-2 font-mono text-xs" title={trigger.url}>
                {trigger.url}
              </td>
              <td className="px-3 py-2">
                <StatusBadge status={trigger.enabled ? "active" : "paused"} />
              </td>
              <td className="px-3 py-2 text-right whitespace-nowrap">
                <Button small tone="ghost" onClick={() => patch.mutate({ id: trigger.id, enabled: !trigger.enabled })}>
                  {trigger.enabled ? "Disable" : "Enable"}
                </Button>
                <Button small tone="ghost" onClick={() => rotate.mutate(trigger.id)}>
                  Rotate secret
                </Button>
                <Button small tone="ghost" className="text-red-700" onClick={() => remove.mutate(trigger.id)}>
                  Delete
                </Button>
              </td>
            </tr>
          ))}
        </Table>
      ) : null}
      {creating ? <NewTrigger onClose={() => setCreating(false)} onCreated={setSecret} /> : null}
      {secret ? (
        <Dialog title={`Webhook ${secret.name}`} onClose={() => setSecret(null)}>
          <Copyable label="URL" value={secret.url} />
          <Copyable label="Signing secret (shown this once)" value={secret.secret} />
          <p className="mb-3 text-xs text-slate-700">
            Sign each delivery: <code>X-Auterity-Signature: t=&lt;unix&gt;,v1=&lt;hex HMAC-SHA256 of "&lt;t&gt;." + body&gt;</code>
          </p>
          <Button tone="primary" onClick={() => setSecret(null)}>
            I have copied it
          </Button>
        </Dialog>
      ) : null}
    </div>
  );
}

function NewTrigger({ onClose, onCreated }: { onClose: () => void; onCreated: (trigger: TriggerCreated) => void }) {
  const queries = useQueryClient();
  const [name, setName] = useState("");
  const [graphId, setGraphId] = useState("");
  const [inputs, setInputs] = useState<unknown>(undefined);
  const create = useMutation({
    mutationFn: () => api.post<TriggerCreated>("/v1/triggers", { name: name.trim(), graph_id: graphId, ...(inputs ? { inputs } : {}) }),
    onSuccess: (trigger) => {
      void queries.invalidateQueries({ queryKey: ["triggers"] });
      onClose();
      onCreated(trigger);
    },
  });
  return (
    <Dialog title="New webhook" onClose={onClose}>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          create.mutate();
        }}
      >
        <TextField label="Name" value={name} onChange={setName} required placeholder="github issues" />
        <GraphSelect value={graphId} onChange={setGraphId} />
        <label htmlFor="trigger-inputs" className="mb-1 block text-sm font-medium text-slate-800">
          Input mapping (optional)
        </label>
        <JsonControl id="trigger-inputs" value={inputs} onChange={setInputs} invalid={false} rows={3} />
        <p className="mb-3 mt-1 text-xs text-slate-600">{'Input name → template over body, headers and query, e.g. {"ticket": "{{ body.issue.title }}"}. Empty: the JSON body is the inputs.'}</p>
        <ErrorBox error={create.error} />
        <div className="mt-3 flex justify-end gap-2">
          <Button onClick={onClose}>Cancel</Button>
          <Button tone="primary" type="submit" disabled={create.isPending || !name.trim() || !graphId}>
            Create
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

export function SchedulesPage() {
  const queries = useQueryClient();
  const canManage = useCan("triggers:manage");
  const schedules = useQuery({ queryKey: ["schedules"], queryFn: () => api.get<{ items: ScheduleRead[] }>("/v1/schedules"), refetchInterval: 10_000 });
  const [creating, setCreating] = useState(false);
  const [backfill, setBackfill] = useState<ScheduleRead | null>(null);
  const act = useMutation({
    mutationFn: ({ id, action }: { id: string; action: "pause" | "resume" | "trigger" }) => api.post(`/v1/schedules/${encodeURIComponent(id)}/${action}`),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ["schedules"] }),
  });
  const remove = useMutation({
    mutationFn: (id: string) => api.delete(`/v1/schedules/${encodeURIComponent(id)}`),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ["schedules"] }),
  });
  return (
    <div>
      <PageHeader title="Schedules" subtitle="Temporal Schedules of graph runs: cron or interval, pause, trigger now, backfill.">
        {canManage ? (
          <Button tone="primary" onClick={() => setCreating(true)}>
            New schedule
          </Button>
        ) : null}
      </PageHeader>
      <ErrorBox error={schedules.error ?? act.error ?? remove.error} />
      {schedules.isPending ? <Spinner /> : null}
      {schedules.data?.items.length === 0 ? <Empty>No schedules.</Empty> : null}
      {schedules.data?.items.length ? (
        <Table label="Schedules" head={["Name", "When", "Next", "State", ""]}>
          {schedules.data.items.map((schedule) => (
            <tr key={schedule.id}>
              <td className="px-3 py-2">
                <div>{schedule.name}</div>
                <Link to={`/runs?graph_id=${schedule.graph_id}`} className="text-xs text-indigo-700 hover:underline">
                  {schedule.actions_taken} runs
                </Link>
              </td>
              <td className="px-3 py-2 font-mono text-xs">
                {schedule.cron?.join("; ") ?? `every ${schedule.interval}`} <span className="font-sans text-slate-600">({schedule.time_zone})</span>
              </td>
              <td className="px-3 py-2 text-xs">{formatTime(schedule.next_action_times[0])}</td>
              <td className="px-3 py-2">
                <StatusBadge status={schedule.paused ? "paused" : "active"} />
              </td>
              <td className="px-3 py-2 text-right whitespace-nowrap">
                {canManage ? (
                  <>
                    <Button small tone="ghost" onClick={() => act.mutate({ id: schedule.id, action: schedule.paused ? "resume" : "pause" })}>
                      {schedule.paused ? "Resume" : "Pause"}
                    </Button>
                    <Button small tone="ghost" onClick={() => act.mutate({ id: schedule.id, action: "trigger" })}>
                      Run now
                    </Button>
                    <Button small tone="ghost" onClick={() => setBackfill(schedule)}>
                      Backfill
                    </Button>
                    <Button small tone="ghost" className="text-red-700" onClick={() => remove.mutate(schedule.id)}>
                      Delete
                    </Button>
                  </>
                ) : null}
              </td>
            </tr>
          ))}
        </Table>
      ) : null}
      {creating ? <NewSchedule onClose={() => setCreating(false)} /> : null}
      {backfill ? <Backfill schedule={backfill} onClose={() => setBackfill(null)} /> : null}
    </div>
  );
}

function NewSchedule({ onClose }: { onClose: () => void }) {
  const queries = useQueryClient();
  const [name, setName] = useState("");
  const [graphId, setGraphId] = useState("");
  const [kind, setKind] = useState<"cron" | "interval">("cron");
  const [spec, setSpec] = useState("0 9 * * MON-FRI");
  const [zone, setZone] = useState(Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC");
  const [inputs, setInputs] = useState<unknown>({});
  const create = useMutation({
    mutationFn: () =>
      api.post("/v1/schedules", {
        name: name.trim(),
        graph_id: graphId,
        inputs: inputs ?? {},
        time_zone: zone,
        ...(kind === "cron" ? { cron: spec.split(";").map((line) => line.trim()).filter(Boolean) } : { interval: spec.trim() }),
      }),
    onSuccess: () => {
      void queries.invalidateQueries({ queryKey: ["schedules"] });
      onClose();
    },
  });
  return (
    <Dialog title="New schedule" onClose={onClose}>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          create.mutate();
        }}
      >
        <TextField label="Name" value={name} onChange={setName} required />
        <GraphSelect value={graphId} onChange={setGraphId} />
        <fieldset className="mb-2 flex gap-4 text-sm">
          <legend className="sr-only">Kind of schedule</legend>
          <label className="flex items-center gap-1">
            <input type="radio" checked={kind === "cron"} onChange={() => (setKind("cron"), setSpec("0 9 * * MON-FRI"))} /> cron
          </label>
          <label className="flex items-center gap-1">
            <input type="radio" checked={kind === "interval"} onChange={() => (setKind("interval"), setSpec("1h"))} /> interval
          </label>
        </fieldset>
        <TextField label={kind === "cron" ? "Cron lines (separate with ;)" : "Every"} value={spec} onChange={setSpec} required />
        <TextField label="Time zone" value={zone} onChange={setZone} />
        <label htmlFor="schedule-inputs" className="mb-1 block text-sm font-medium text-slate-800">
          Inputs (JSON)
        </label>
        <JsonControl id="schedule-inputs" value={inputs} onChange={setInputs} invalid={false} rows={3} />
        <div className="mt-3">
          <ErrorBox error={create.error} />
        </div>
        <div className="mt-3 flex justify-end gap-2">
          <Button onClick={onClose}>Cancel</Button>
          <Button tone="primary" type="submit" disabled={create.isPending || !name.trim() || !graphId}>
            Create
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

function Backfill({ schedule, onClose }: { schedule: ScheduleRead; onClose: () => void }) {
  const [start, setStart] = useState("");
  const [end, setEnd] = useState("");
  const run = useMutation({
    mutationFn: () => api.post(`/v1/schedules/${encodeURIComponent(schedule.id)}/backfill`, { start: new Date(start).toISOString(), end: new Date(end).toISOString() }),
  });
  return (
    <Dialog title={`Backfill ${schedule.name}`} onClose={onClose}>
      {run.isSuccess ? (
        <div>
          <p className="mb-3 text-sm">Backfilling: the runs appear in the schedule's runs.</p>
          <Button tone="primary" onClick={onClose}>
            Done
          </Button>
        </div>
      ) : (
        <form
          onSubmit={(event) => {
            event.preventDefault();
            run.mutate();
          }}
        >
          <TextField label="From (inclusive)" type="datetime-local" value={start} onChange={setStart} required />
          <TextField label="To (exclusive, not in the future)" type="datetime-local" value={end} onChange={setEnd} required />
          <ErrorBox error={run.error} />
          <div className="mt-3 flex justify-end gap-2">
            <Button onClick={onClose}>Cancel</Button>
            <Button tone="primary" type="submit" disabled={run.isPending || !start || !end}>
              Backfill
            </Button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
