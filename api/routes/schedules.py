"""Schedules: Temporal Schedules of graph runs — cron or interval, time zone, overlap policy,
pause and resume, run now, backfill. Temporal holds the spec and state; reads come from it."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.client import (
    Client,
    ScheduleActionExecutionStartWorkflow,
    ScheduleBackfill,
    ScheduleDescription,
    ScheduleIntervalSpec,
)

from api.auth import ExecutionsReader, TriggersManager
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.problems import NotFound
from api.schemas import Body
from api.services import executions
from api.services import schedules as service
from auterity import audit
from auterity.audit import Target
from auterity.graph import naming
from auterity.graph.run import GraphRunInput
from auterity.models.base import utcnow
from auterity.models.triggers import GraphSchedule
from auterity.security.principal import Principal

router = APIRouter(prefix="/v1/schedules", tags=["schedules"])
log = logging.getLogger("auterity.schedules")

Cron = Annotated[str, AfterValidator(service.check_cron)]
Interval = Annotated[
    str, AfterValidator(service.check_interval), Field(examples=["15m", "1h", "1d"])
]
TimeZone = Annotated[str, AfterValidator(service.check_time_zone), Field(examples=["Europe/Paris"])]
CRON_DESCRIPTION = "Cron lines ('0 9 * * MON-FRI', '@daily'); the union of their times"
VERSION_DESCRIPTION = (
    "A version id or number; unset: the graph's current version when the schedule is saved"
)


class ScheduleCreate(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "weekday digest",
                    "graph_id": "gr_3f9a1c2b7d4e",
                    "inputs": {"topic": "sales"},
                    "cron": ["0 9 * * MON-FRI"],
                    "time_zone": "Europe/Paris",
                    "note": "for the sales stand-up",
                },
                {
                    "name": "queue sweep",
                    "graph_id": "gr_8b2e4d6f1a3c",
                    "version": "4",
                    "interval": "15m",
                    "overlap": "buffer_one",
                },
            ]
        }
    )

    name: str = Field(min_length=1, max_length=200, examples=["weekday digest"])
    graph_id: str = Field(min_length=1, max_length=40)
    version: str | None = Field(default=None, max_length=80, description=VERSION_DESCRIPTION)
    inputs: dict[str, Any] = Field(default_factory=dict, examples=[{"topic": "sales"}])
    cron: list[Cron] | None = Field(
        default=None, min_length=1, max_length=20, description=CRON_DESCRIPTION,
        examples=[["0 9 * * MON-FRI"]],
    )  # fmt: skip
    interval: Interval | None = Field(default=None, description="Every so long: '15m', '1h'")
    time_zone: TimeZone = "UTC"
    overlap: service.Overlap = Field(
        default="skip", description="What happens when a run is due while the last one runs"
    )
    paused: bool = False
    note: str = Field(default="", max_length=1000)

    @model_validator(mode="after")
    def _one_spec(self) -> ScheduleCreate:
        if (self.cron is None) == (self.interval is None):
            raise ValueError("give exactly one of cron (a list of cron lines) or interval")
        return self


class ScheduleUpdate(Body):
    """Only the fields sent change. `cron` or `interval` replaces the spec; `version: null`
    re-pins the graph's current version; a new `graph_id` runs that graph's current version."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"cron": ["0 8 * * MON-FRI"], "time_zone": "America/New_York"},
                {"interval": "1h", "overlap": "skip", "note": "hourly while the launch runs"},
                {"version": None, "inputs": {"topic": "marketing"}},
            ]
        }
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    graph_id: str | None = Field(default=None, min_length=1, max_length=40)
    version: str | None = Field(default=None, max_length=80, description=VERSION_DESCRIPTION)
    inputs: dict[str, Any] | None = None
    cron: list[Cron] | None = Field(default=None, min_length=1, max_length=20)
    interval: Interval | None = None
    time_zone: TimeZone | None = None
    overlap: service.Overlap | None = None
    paused: bool | None = None
    note: str | None = Field(default=None, max_length=1000)

    @field_validator(
        "name", "graph_id", "inputs", "cron", "interval", "time_zone", "overlap", "paused", "note"
    )
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may not be null: leave it out to keep it")
        return value

    @model_validator(mode="after")
    def _one_spec(self) -> ScheduleUpdate:
        if self.cron is not None and self.interval is not None:
            raise ValueError("give at most one of cron or interval")
        return self


class ScheduleNote(Body):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"note": "paused during the warehouse migration"}]}
    )

    note: str | None = Field(default=None, max_length=1000)


class ScheduleRunNow(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"overlap": "allow_all"}]})

    overlap: service.Overlap | None = Field(
        default=None, description="Override the schedule's overlap policy for this run"
    )


class ScheduleBackfillRequest(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "start": "2025-03-03T00:00:00+01:00",
                    "end": "2025-03-08T00:00:00+01:00",
                    "overlap": "buffer_all",
                }
            ]
        }
    )

    start: AwareDatetime = Field(description="Inclusive; with a time zone offset")
    end: AwareDatetime = Field(description="Exclusive; not in the future")
    overlap: service.Overlap | None = Field(
        default=None, description="Overlap policy for the backfilled runs (the schedule's if unset)"
    )

    @model_validator(mode="after")
    def _ordered(self) -> ScheduleBackfillRequest:
        if self.start >= self.end:
            raise ValueError("start must be before end")
        if self.end > datetime.now(UTC):
            raise ValueError("end is in the future: backfill covers past times (use /trigger)")
        return self


class ScheduleAction(BaseModel):
    scheduled_at: datetime
    started_at: datetime | None
    execution_id: str | None


class ScheduleRead(BaseModel):
    id: str
    name: str
    graph_id: str
    version_id: str | None
    inputs: dict[str, Any] | None
    cron: list[str] | None
    interval: str | None
    time_zone: str
    overlap: str
    paused: bool
    note: str
    next_action_times: list[datetime]
    recent_actions: list[ScheduleAction]
    running: list[str] = Field(description="Execution ids of the schedule's runs still running")
    actions_taken: int
    created_by: str | None
    created_at: datetime
    updated_at: datetime


class ScheduleList(BaseModel):
    items: list[ScheduleRead]


class ScheduleAccepted(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"id": "acme:sched:4f2a9c1e7b3d", "status": "triggered"}]}
    )

    id: str
    status: str


# --- helpers --------------------------------------------------------------------------


def _row(session: Session, principal: Principal, schedule_id: str) -> GraphSchedule:
    """The tenant's schedule row; a foreign or unknown id is a 404 (before Temporal is asked)."""
    row = session.get(GraphSchedule, schedule_id)
    if row is None or not naming.schedule_in_tenant(schedule_id, principal.tenant_slug):
        raise NotFound(f"schedule '{schedule_id}' not found")
    return row


def _run(
    session: Session,
    principal: Principal,
    graph_id: str,
    version: str | None,
    inputs: dict[str, Any],
) -> tuple[GraphRunInput, executions.Runnable]:
    resolved = executions.runnable(session, graph_id, version)
    run = executions.run_input(
        session, principal.tenant_slug, resolved, inputs, trigger=service.TRIGGER
    )
    return run, resolved


def _interval_text(every: ScheduleIntervalSpec) -> str:
    seconds = int(every.every.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _execution_id(action: Any) -> str | None:
    return action.workflow_id if isinstance(action, ScheduleActionExecutionStartWorkflow) else None


async def _read(
    client: Client, row: GraphSchedule, description: ScheduleDescription
) -> ScheduleRead:
    run = await service.run_of(client, description)
    plan, info = description.schedule, description.info
    intervals = plan.spec.intervals
    return ScheduleRead(
        id=row.id, name=row.name, graph_id=run.graph_id if run else row.graph_id,
        version_id=run.version_id if run else None, inputs=run.inputs if run else None,
        cron=None if intervals else row.cron,
        interval=_interval_text(intervals[0]) if intervals else None,
        time_zone=plan.spec.time_zone_name or "UTC",
        overlap=service.OVERLAP_NAMES.get(plan.policy.overlap, "skip"),
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


async def _fresh(client: Client, row: GraphSchedule) -> ScheduleRead:
    handle = client.get_schedule_handle(row.id)
    return await _read(client, row, await service.describe(handle))


def _record(
    session: Session,
    principal: Principal,
    action: str,
    row: GraphSchedule,
    request: Request,
    details: dict[str, Any] | None = None,
) -> None:
    audit.record(
        session, principal, action, request=request,
        targets=[Target("schedule", row.id, row.name), Target("graph", row.graph_id)],
        details=details,
    )  # fmt: skip


# --- endpoints --------------------------------------------------------------------------


@router.post("", status_code=201, response_model=ScheduleRead)
async def create_schedule(
    body: ScheduleCreate,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
    principal: TriggersManager,
    request: Request,
) -> ScheduleRead:
    """Schedule runs of a graph version with fixed inputs (validated now) on a cron or interval."""
    run, resolved = _run(session, principal, body.graph_id, body.version, body.inputs)
    schedule_id = naming.new_schedule_id(principal.tenant_slug)
    row = GraphSchedule(
        id=schedule_id, tenant_id=principal.tenant_id, name=body.name, graph_id=body.graph_id,
        cron=body.cron or [], interval=body.interval, created_by=principal.name,
    )  # fmt: skip
    session.add(row)
    session.flush()
    plan = service.schedule(
        service.action(run, schedule_id, settings.task_queue, started_by=principal.id),
        service.spec(body.cron, body.interval, body.time_zone),
        overlap=body.overlap, paused=body.paused, note=body.note,
    )  # fmt: skip
    attributes = naming.run_attributes(principal.tenant_slug, body.graph_id)
    await service.create(client, schedule_id, plan, attributes)
    _record(
        session, principal, "schedule.create", row, request,
        {"version_id": resolved.version_id, "cron": body.cron, "interval": body.interval,
         "time_zone": body.time_zone, "overlap": body.overlap, "paused": body.paused},
    )  # fmt: skip
    return await _fresh(client, row)


@router.get("", response_model=ScheduleList)
async def list_schedules(
    session: SessionDep,
    client: TemporalDep,
    _principal: ExecutionsReader,
    graph_id: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ScheduleList:
    """The tenant's schedules, newest first, each with its state from Temporal."""
    query = select(GraphSchedule)
    if graph_id:
        query = query.where(GraphSchedule.graph_id == graph_id)
    query = query.order_by(GraphSchedule.created_at.desc(), GraphSchedule.id)
    rows = list(session.scalars(query.limit(limit).offset(offset)))
    reads = await asyncio.gather(*(_fresh(client, row) for row in rows), return_exceptions=True)
    items = []
    for row, read in zip(rows, reads, strict=True):
        if isinstance(read, NotFound):
            log.warning("schedule %s has a row but no Temporal schedule", row.id)
            continue
        if isinstance(read, BaseException):
            raise read
        items.append(read)
    return ScheduleList(items=items)


@router.get("/{schedule_id}", response_model=ScheduleRead)
async def read_schedule(
    schedule_id: str, session: SessionDep, client: TemporalDep, principal: ExecutionsReader
) -> ScheduleRead:
    """Spec, policy, state, the next run times and the recent runs with their execution ids."""
    return await _fresh(client, _row(session, principal, schedule_id))


@router.patch("/{schedule_id}", response_model=ScheduleRead)
async def update_schedule(
    schedule_id: str,
    body: ScheduleUpdate,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
    principal: TriggersManager,
    request: Request,
) -> ScheduleRead:
    """Change a schedule's graph, version, inputs, spec, time zone, overlap, pause or note."""
    row = _row(session, principal, schedule_id)
    handle = service.handle_for(client, principal.tenant_slug, schedule_id)
    sent = body.model_fields_set
    new_action = None
    if sent & {"graph_id", "version", "inputs"}:
        current = await service.run_of(client, await service.describe(handle))
        graph_id = body.graph_id or row.graph_id
        if "version" in sent:
            version = body.version
        elif graph_id != row.graph_id or current is None:
            version = None
        else:
            version = current.version_id
        inputs = body.inputs if body.inputs is not None else (current.inputs if current else {})
        run, _resolved = _run(session, principal, graph_id, version, inputs)
        new_action = service.action(run, schedule_id, settings.task_queue, started_by=principal.id)
        row.graph_id = graph_id

    def change(plan: Any) -> None:
        if new_action is not None:
            plan.action = new_action
        if body.cron is not None or body.interval is not None:
            time_zone = body.time_zone or plan.spec.time_zone_name or "UTC"
            plan.spec = service.spec(body.cron, body.interval, time_zone)
        elif body.time_zone is not None:
            plan.spec.time_zone_name = body.time_zone
        if body.overlap is not None:
            plan.policy.overlap = service.OVERLAP[body.overlap]
        if body.paused is not None:
            plan.state.paused = body.paused
        if body.note is not None:
            plan.state.note = body.note or None

    attributes = None
    if new_action is not None:
        attributes = naming.run_attributes(principal.tenant_slug, row.graph_id)
    await service.update(handle, change, loc=["body"], attributes=attributes)
    if body.cron is not None or body.interval is not None:
        row.cron, row.interval = body.cron or [], body.interval
    if body.name is not None:
        row.name = body.name
    row.updated_at = utcnow()
    session.flush()
    _record(session, principal, "schedule.update", row, request, {"changed": sorted(sent)})
    return await _fresh(client, row)


@router.delete("/{schedule_id}", status_code=204)
async def delete_schedule(
    schedule_id: str,
    session: SessionDep,
    client: TemporalDep,
    principal: TriggersManager,
    request: Request,
) -> Response:
    """Delete a schedule; runs it already started are unaffected."""
    row = _row(session, principal, schedule_id)
    handle = service.handle_for(client, principal.tenant_slug, schedule_id)
    try:
        await service.call(handle.delete(), schedule_id, loc=["path", "schedule_id"])
    except NotFound:
        log.warning("schedule %s was already gone from Temporal; deleting its row", schedule_id)
    session.delete(row)
    session.flush()
    _record(session, principal, "schedule.delete", row, request)
    return Response(status_code=204)


async def _pause_or_resume(
    pause: bool,
    schedule_id: str,
    body: ScheduleNote | None,
    session: Session,
    client: Client,
    principal: Principal,
    request: Request,
) -> ScheduleRead:
    row = _row(session, principal, schedule_id)
    handle = service.handle_for(client, principal.tenant_slug, schedule_id)
    verb = "paused" if pause else "resumed"
    note = (body.note if body else None) or f"{verb} by {principal.name}"
    operation = handle.pause(note=note) if pause else handle.unpause(note=note)
    await service.call(operation, schedule_id, loc=["path", "schedule_id"])
    _record(session, principal, f"schedule.{'pause' if pause else 'resume'}", row, request)
    return await _fresh(client, row)


@router.post("/{schedule_id}/pause", response_model=ScheduleRead)
async def pause_schedule(
    schedule_id: str,
    session: SessionDep,
    client: TemporalDep,
    principal: TriggersManager,
    request: Request,
    body: ScheduleNote | None = None,
) -> ScheduleRead:
    """Stop taking actions until resumed (an optional note says why)."""
    return await _pause_or_resume(True, schedule_id, body, session, client, principal, request)


@router.post("/{schedule_id}/resume", response_model=ScheduleRead)
async def resume_schedule(
    schedule_id: str,
    session: SessionDep,
    client: TemporalDep,
    principal: TriggersManager,
    request: Request,
    body: ScheduleNote | None = None,
) -> ScheduleRead:
    """Take actions again from the next due time."""
    return await _pause_or_resume(False, schedule_id, body, session, client, principal, request)


@router.post("/{schedule_id}/trigger", status_code=202, response_model=ScheduleAccepted)
async def trigger_schedule(
    schedule_id: str,
    session: SessionDep,
    client: TemporalDep,
    principal: TriggersManager,
    request: Request,
    body: ScheduleRunNow | None = None,
) -> ScheduleAccepted:
    """Run the schedule's action now (the execution appears in its recent actions)."""
    row = _row(session, principal, schedule_id)
    handle = service.handle_for(client, principal.tenant_slug, schedule_id)
    overlap = body.overlap if body else None
    operation = handle.trigger(overlap=service.OVERLAP[overlap] if overlap else None)
    await service.call(operation, schedule_id, loc=["path", "schedule_id"])
    _record(session, principal, "schedule.trigger", row, request, {"overlap": overlap})
    return ScheduleAccepted(id=schedule_id, status="triggered")


@router.post("/{schedule_id}/backfill", status_code=202, response_model=ScheduleAccepted)
async def backfill_schedule(
    schedule_id: str,
    body: ScheduleBackfillRequest,
    session: SessionDep,
    client: TemporalDep,
    principal: TriggersManager,
    request: Request,
) -> ScheduleAccepted:
    """Take the actions the schedule would have taken between start and end, now."""
    row = _row(session, principal, schedule_id)
    handle = service.handle_for(client, principal.tenant_slug, schedule_id)
    overlap = service.OVERLAP[body.overlap] if body.overlap else None
    backfill = ScheduleBackfill(start_at=body.start, end_at=body.end, overlap=overlap)
    await service.call(handle.backfill(backfill), schedule_id, loc=["body"])
    _record(
        session, principal, "schedule.backfill", row, request,
        {"start": body.start.isoformat(), "end": body.end.isoformat(), "overlap": body.overlap},
    )  # fmt: skip
    return ScheduleAccepted(id=schedule_id, status="backfilling")
