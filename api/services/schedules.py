"""Schedules are Temporal Schedules: spec, policy, state and action live there.

Every schedule id is `<tenant-slug>:sched:<short id>`; each call checks the
prefix and the tenant's row (`GraphSchedule`) before it touches Temporal, so
another tenant's id is a 404 in both places. The action starts `GraphWorkflow`
with a `GraphRunInput` built when the schedule is created or updated, so the
graph version a schedule runs is fixed then (the given one, or the current one); the
registry aliases its llm nodes name are not: each run pins them when it starts.
Each run's workflow id is `<tenant>:<graph>:sched-<short id>-<time>` (Temporal
appends the scheduled time) and its trigger search attribute is "schedule".
Reads combine the row (name, author) with Temporal's description of the schedule.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.api.workflowservice.v1 import ListScheduleMatchingTimesRequest
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionStartWorkflow,
    ScheduleBackfill,
    ScheduleDescription,
    ScheduleHandle,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from api.problems import NotFound, Problem, ServiceUnavailable, Unprocessable
from api.schemas.schedules import (
    Overlap,
    ScheduleAction,
    ScheduleBackfillRequest,
    ScheduleCreate,
    ScheduleRead,
)
from api.schemas.schedules import (
    ScheduleUpdate as ScheduleChange,
)
from api.services import executions, one_or_404
from auterity import audit
from auterity.graph import naming
from auterity.graph.model import parse_duration
from auterity.graph.run import WORKFLOW_NAME, GraphRunInput
from auterity.models.base import utcnow
from auterity.models.triggers import GraphSchedule
from auterity.security.principal import Principal
from auterity.settings import Settings

log = logging.getLogger("auterity.schedules")

OVERLAP: dict[Overlap, ScheduleOverlapPolicy] = {
    "skip": ScheduleOverlapPolicy.SKIP,
    "buffer_one": ScheduleOverlapPolicy.BUFFER_ONE,
    "buffer_all": ScheduleOverlapPolicy.BUFFER_ALL,
    "cancel_other": ScheduleOverlapPolicy.CANCEL_OTHER,
    "terminate_other": ScheduleOverlapPolicy.TERMINATE_OTHER,
    "allow_all": ScheduleOverlapPolicy.ALLOW_ALL,
}
OVERLAP_NAMES = {policy: name for name, policy in OVERLAP.items()}
TRIGGER = naming.Trigger.SCHEDULE


# --- the tenant's schedules -----------------------------------------------------------------


def get_schedule(session: Session, tenant_slug: str, schedule_id: str) -> GraphSchedule:
    """The tenant's schedule row; a foreign or unknown id is a 404 (before Temporal is asked)."""
    if not naming.schedule_in_tenant(schedule_id, tenant_slug):
        raise NotFound(f"schedule '{schedule_id}' not found")
    return one_or_404(session, GraphSchedule, schedule_id, f"schedule '{schedule_id}'")


async def find_schedule(session: Session, tenant_slug: str, schedule_id: str) -> GraphSchedule:
    """`get_schedule` off the event loop."""
    return await asyncio.to_thread(get_schedule, session, tenant_slug, schedule_id)


async def _row_and_handle(
    session: Session, client: Client, principal: Principal, schedule_id: str
) -> tuple[GraphSchedule, ScheduleHandle]:
    """The tenant's schedule row (else 404, before Temporal is asked) and a handle on it."""
    row = await find_schedule(session, principal.tenant_slug, schedule_id)
    return row, client.get_schedule_handle(schedule_id)


async def read(client: Client, row: GraphSchedule) -> ScheduleRead:
    """The schedule as Temporal has it now: spec, policy, state, next and recent runs."""
    description = await describe(client.get_schedule_handle(row.id))
    run = await run_of(client, description)
    plan, info = description.schedule, description.info
    intervals = plan.spec.intervals
    return ScheduleRead(
        id=row.id, name=row.name, graph_id=run.graph_id if run else row.graph_id,
        version_id=run.version_id if run else None, inputs=run.inputs if run else None,
        cron=None if intervals else row.cron,
        interval=interval_text(intervals[0]) if intervals else None,
        time_zone=plan.spec.time_zone_name or "UTC",
        overlap=OVERLAP_NAMES.get(plan.policy.overlap, "skip"),
        paused=plan.state.paused, note=plan.state.note or "",
        next_action_times=list(info.next_action_times),
        recent_actions=[
            ScheduleAction(
                scheduled_at=result.scheduled_at, started_at=result.started_at,
                execution_id=_execution_id(result.action),
            )
            for result in info.recent_actions
        ],
        running=[eid for eid in map(_execution_id, info.running_actions) if eid],
        actions_taken=info.num_actions, created_by=row.created_by,
        created_at=row.created_at, updated_at=row.updated_at,
    )  # fmt: skip


async def list_schedules(
    session: Session, client: Client, *, graph_id: str | None, limit: int, offset: int
) -> list[ScheduleRead]:
    """The tenant's schedules, newest first, each with its state from Temporal (a row whose
    Temporal schedule is gone is left out)."""
    query = select(GraphSchedule)
    if graph_id:
        query = query.where(GraphSchedule.graph_id == graph_id)
    query = query.order_by(GraphSchedule.created_at.desc(), GraphSchedule.id)
    rows = await asyncio.to_thread(lambda: list(session.scalars(query.limit(limit).offset(offset))))
    reads = await asyncio.gather(*(read(client, row) for row in rows), return_exceptions=True)
    items = []
    for row, found in zip(rows, reads, strict=True):
        if isinstance(found, NotFound):
            log.warning("schedule %s has a row but no Temporal schedule", row.id)
            continue
        if isinstance(found, BaseException):
            raise found
        items.append(found)
    return items


def check_interval(interval: str | None, settings: Settings) -> None:
    """422 when an interval is shorter than AUTERITY_SCHEDULE_MIN_INTERVAL."""
    shortest = parse_duration(settings.schedule_min_interval)
    if interval is not None and parse_duration(interval) < shortest:
        message = (
            f"interval {interval!r} is shorter than the minimum, "
            f"{settings.schedule_min_interval} (AUTERITY_SCHEDULE_MIN_INTERVAL)"
        )
        raise Unprocessable(message, errors=[{"loc": ["body", "interval"], "msg": message}])


async def create_schedule(
    session: Session,
    client: Client,
    settings: Settings,
    principal: Principal,
    body: ScheduleCreate,
    context: audit.AuditContext,
) -> GraphSchedule:
    """Schedule runs of a graph version with fixed inputs (validated now)."""
    check_interval(body.interval, settings)
    task_queue = settings.task_queue
    run, resolved = await asyncio.to_thread(
        run_input, session, principal, body.graph_id, body.version, body.inputs,
        settings.blob_threshold_bytes, settings.llm_task_queue,
    )  # fmt: skip
    schedule_id = naming.new_schedule_id(principal.tenant_slug)
    row = GraphSchedule(
        id=schedule_id, tenant_id=principal.tenant_id, name=body.name, graph_id=body.graph_id,
        cron=body.cron or [], interval=body.interval, created_by=principal.name,
    )  # fmt: skip
    session.add(row)
    await asyncio.to_thread(session.flush)
    plan = schedule(
        action(run, schedule_id, task_queue, started_by=principal.id),
        spec(body.cron, body.interval, body.time_zone),
        overlap=body.overlap, paused=body.paused, note=body.note,
    )  # fmt: skip
    attributes = naming.run_attributes(principal.tenant_slug, body.graph_id)
    await _create(client, schedule_id, plan, attributes)
    await _record(
        session, principal, "schedule.create", row, context,
        {"version_id": resolved.version_id, "cron": body.cron, "interval": body.interval,
         "time_zone": body.time_zone, "overlap": body.overlap, "paused": body.paused},
    )  # fmt: skip
    return row


async def update_schedule(
    session: Session,
    client: Client,
    settings: Settings,
    principal: Principal,
    schedule_id: str,
    body: ScheduleChange,
    context: audit.AuditContext,
) -> GraphSchedule:
    """Change a schedule's graph, version, inputs, spec, time zone, overlap, pause or note."""
    check_interval(body.interval, settings)
    task_queue = settings.task_queue
    row, handle = await _row_and_handle(session, client, principal, schedule_id)
    sent = body.model_fields_set
    new_action = None
    if sent & {"graph_id", "version", "inputs"}:
        current = await run_of(client, await describe(handle))
        graph_id = body.graph_id or row.graph_id
        if "version" in sent:
            version = body.version
        elif graph_id != row.graph_id or current is None:
            version = None
        else:
            version = current.version_id
        inputs = body.inputs if body.inputs is not None else (current.inputs if current else {})
        run, _resolved = await asyncio.to_thread(
            run_input, session, principal, graph_id, version, inputs,
            settings.blob_threshold_bytes, settings.llm_task_queue,
        )  # fmt: skip
        new_action = action(run, schedule_id, task_queue, started_by=principal.id)
        row.graph_id = graph_id

    def change(plan: Any) -> None:
        if new_action is not None:
            plan.action = new_action
        if body.cron is not None or body.interval is not None:
            time_zone = body.time_zone or plan.spec.time_zone_name or "UTC"
            plan.spec = spec(body.cron, body.interval, time_zone)
        elif body.time_zone is not None:
            plan.spec.time_zone_name = body.time_zone
        if body.overlap is not None:
            plan.policy.overlap = OVERLAP[body.overlap]
        if body.paused is not None:
            plan.state.paused = body.paused
        if body.note is not None:
            plan.state.note = body.note or None

    attributes = None
    if new_action is not None:
        attributes = naming.run_attributes(principal.tenant_slug, row.graph_id)
    await _update(handle, change, loc=["body"], attributes=attributes)
    if body.cron is not None or body.interval is not None:
        row.cron, row.interval = body.cron or [], body.interval
    if body.name is not None:
        row.name = body.name
    row.updated_at = utcnow()
    await asyncio.to_thread(session.flush)
    await _record(session, principal, "schedule.update", row, context, {"changed": sorted(sent)})
    return row


async def delete_schedule(
    session: Session,
    client: Client,
    principal: Principal,
    schedule_id: str,
    context: audit.AuditContext,
) -> None:
    """Delete a schedule; runs it already started are unaffected."""
    row, handle = await _row_and_handle(session, client, principal, schedule_id)
    try:
        await _call(handle.delete(), schedule_id, loc=["path", "schedule_id"])
    except NotFound:
        log.warning("schedule %s was already gone from Temporal; deleting its row", schedule_id)
    await asyncio.to_thread(_delete, session, row)
    await _record(session, principal, "schedule.delete", row, context)


def _delete(session: Session, row: GraphSchedule) -> None:
    session.delete(row)
    session.flush()


async def pause_or_resume(
    session: Session,
    client: Client,
    principal: Principal,
    schedule_id: str,
    *,
    pause: bool,
    note: str | None,
    context: audit.AuditContext,
) -> GraphSchedule:
    """Stop taking actions until resumed, or take them again; the note says why."""
    row, handle = await _row_and_handle(session, client, principal, schedule_id)
    verb = "paused" if pause else "resumed"
    note = note or f"{verb} by {principal.name}"
    operation = handle.pause(note=note) if pause else handle.unpause(note=note)
    await _call(operation, schedule_id, loc=["path", "schedule_id"])
    await _record(session, principal, f"schedule.{'pause' if pause else 'resume'}", row, context)
    return row


async def trigger_now(
    session: Session,
    client: Client,
    principal: Principal,
    schedule_id: str,
    overlap: Overlap | None,
    context: audit.AuditContext,
) -> None:
    """Run the schedule's action now (under `overlap`, or the schedule's policy)."""
    row, handle = await _row_and_handle(session, client, principal, schedule_id)
    operation = handle.trigger(overlap=OVERLAP[overlap] if overlap else None)
    await _call(operation, schedule_id, loc=["path", "schedule_id"])
    await _record(session, principal, "schedule.trigger", row, context, {"overlap": overlap})


async def backfill(
    session: Session,
    client: Client,
    principal: Principal,
    schedule_id: str,
    body: ScheduleBackfillRequest,
    context: audit.AuditContext,
    *,
    max_actions: int,
) -> None:
    """Take the actions the schedule would have taken between start and end, now; at most
    `max_actions` of them (422 otherwise, before anything starts)."""
    row, handle = await _row_and_handle(session, client, principal, schedule_id)
    due = await matching_times(client, schedule_id, body, limit=max_actions + 1)
    if due > max_actions:
        message = (
            f"the backfill would start more than {max_actions} runs "
            "(AUTERITY_SCHEDULE_BACKFILL_MAX_ACTIONS): backfill a shorter span at a time"
        )
        raise Unprocessable(message, errors=[{"loc": ["body", "end"], "msg": message}])
    overlap = OVERLAP[body.overlap] if body.overlap else None
    window = ScheduleBackfill(start_at=body.start, end_at=body.end, overlap=overlap)
    await _call(handle.backfill(window), schedule_id, loc=["body"])
    await _record(
        session, principal, "schedule.backfill", row, context,
        {"start": body.start.isoformat(), "end": body.end.isoformat(), "overlap": body.overlap},
    )  # fmt: skip


def run_input(
    session: Session,
    principal: Principal,
    graph_id: str,
    version: str | None,
    inputs: dict[str, Any],
    blob_threshold_bytes: int,
    llm_task_queue: str,
) -> tuple[GraphRunInput, executions.Runnable]:
    """The run a schedule starts: the graph version resolved now, the inputs validated now;
    registry references are checked now but pinned by each run when it starts."""
    resolved = executions.runnable(session, graph_id, version)
    run = executions.run_input(
        session, principal.tenant_slug, resolved, inputs, trigger=TRIGGER, pin=False,
        blob_threshold_bytes=blob_threshold_bytes, llm_task_queue=llm_task_queue,
    )  # fmt: skip
    return run, resolved


def interval_text(every: ScheduleIntervalSpec) -> str:
    """An interval as a duration a caller would write: '15m', '1h', '90s'."""
    seconds = int(every.every.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _execution_id(action: Any) -> str | None:
    return action.workflow_id if isinstance(action, ScheduleActionExecutionStartWorkflow) else None


async def _record(
    session: Session,
    principal: Principal,
    action: str,
    row: GraphSchedule,
    context: audit.AuditContext,
    details: dict[str, Any] | None = None,
) -> None:
    """The change's audit entry, written off the event loop."""
    await asyncio.to_thread(
        lambda: audit.record(
            session, principal, action, request=context,
            targets=[audit.Target("schedule", row.id, row.name),
                     audit.Target("graph", row.graph_id)],
            details=details,
        )
    )  # fmt: skip


# --- building what Temporal takes ---------------------------------------------------------


def spec(cron: list[str] | None, interval: str | None, time_zone: str) -> ScheduleSpec:
    if interval is not None:
        return ScheduleSpec(
            intervals=[ScheduleIntervalSpec(every=parse_duration(interval))],
            time_zone_name=time_zone,
        )
    return ScheduleSpec(cron_expressions=list(cron or []), time_zone_name=time_zone)


def action(
    run: GraphRunInput, schedule_id: str, task_queue: str, *, started_by: str
) -> ScheduleActionStartWorkflow:
    """Start GraphWorkflow with `run`, tagged like any other execution (trigger "schedule")."""
    return ScheduleActionStartWorkflow(
        WORKFLOW_NAME,
        run,
        id=naming.scheduled_run_id(run.tenant, run.graph_id, schedule_id),
        task_queue=task_queue,
        typed_search_attributes=naming.run_attributes(
            run.tenant, run.graph_id, run.version_id, TRIGGER
        ),
        memo={"schedule_id": schedule_id, "started_by": started_by},
        static_summary=f"graph {run.graph_id} @ {run.version_id} (schedule {schedule_id})",
        priority=naming.run_priority(run.tenant),
    )


def schedule(
    start: ScheduleActionStartWorkflow,
    when: ScheduleSpec,
    *,
    overlap: Overlap,
    paused: bool,
    note: str,
) -> Schedule:
    return Schedule(
        action=start,
        spec=when,
        policy=SchedulePolicy(overlap=OVERLAP[overlap]),
        state=ScheduleState(note=note or None, paused=paused),
    )


# --- talking to Temporal ------------------------------------------------------------------


def rpc_problem(error: RPCError, schedule_id: str, loc: list[Any]) -> Problem:
    """What an RPC error from Temporal means to the caller."""
    if error.status == RPCStatusCode.NOT_FOUND:
        return NotFound(f"schedule '{schedule_id}' not found")
    if error.status == RPCStatusCode.INVALID_ARGUMENT:
        return Unprocessable(error.message, errors=[{"loc": loc, "msg": error.message}])
    if error.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
        return ServiceUnavailable(f"Temporal is unavailable: {error.message}")
    return Problem(f"Temporal refused the request: {error.message}", status=502)


async def _create(
    client: Client, schedule_id: str, plan: Schedule, attributes: TypedSearchAttributes
) -> None:
    try:
        await client.create_schedule(schedule_id, plan, search_attributes=attributes)
    except RPCError as error:
        raise rpc_problem(error, schedule_id, ["body"]) from None


async def describe(handle: ScheduleHandle) -> ScheduleDescription:
    try:
        return await handle.describe()
    except RPCError as error:
        raise rpc_problem(error, handle.id, ["path", "schedule_id"]) from None


async def _update(
    handle: ScheduleHandle,
    change: Callable[[Schedule], None],
    *,
    loc: list[Any],
    attributes: TypedSearchAttributes | None = None,
) -> None:
    """Apply `change` to the schedule as Temporal has it now (conflict-checked by Temporal)."""

    def updater(current: ScheduleUpdateInput) -> ScheduleUpdate:
        plan = current.description.schedule
        change(plan)
        return ScheduleUpdate(schedule=plan, search_attributes=attributes)

    try:
        await handle.update(updater)
    except RPCError as error:
        raise rpc_problem(error, handle.id, loc) from None


async def _call(operation: Any, schedule_id: str, *, loc: list[Any]) -> None:
    """Await one handle operation (pause, trigger, backfill…), its RPC errors as problems."""
    try:
        await operation
    except RPCError as error:
        raise rpc_problem(error, schedule_id, loc) from None


async def matching_times(
    client: Client, schedule_id: str, window: ScheduleBackfillRequest, *, limit: int
) -> int:
    """How many actions the schedule's spec has between start and end, as Temporal counts
    them (up to `limit`: enough to refuse)."""
    start, end = Timestamp(), Timestamp()
    start.FromDatetime(window.start)
    end.FromDatetime(window.end)
    request = ListScheduleMatchingTimesRequest(
        namespace=client.namespace, schedule_id=schedule_id, start_time=start, end_time=end
    )
    try:
        response = await client.workflow_service.list_schedule_matching_times(request)
    except RPCError as error:
        raise rpc_problem(error, schedule_id, ["body"]) from None
    return min(len(response.start_time), limit)


async def run_of(client: Client, description: ScheduleDescription) -> GraphRunInput | None:
    """The `GraphRunInput` the schedule starts runs with (None if its action is not ours)."""
    start = description.schedule.action
    if not isinstance(start, ScheduleActionStartWorkflow) or start.workflow != WORKFLOW_NAME:
        return None
    if not start.args:
        return None
    [run] = await client.data_converter.decode(list(start.args), [GraphRunInput])  # type: ignore[arg-type]
    return run  # type: ignore[no-any-return]
