"""Schedules: Temporal Schedules of graph runs — cron or interval, time zone, overlap policy,
pause and resume, run now, backfill. Temporal holds the spec and state; reads come from it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.auth import ExecutionsReader, TriggersManager
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.schemas import Offset
from api.schemas.schedules import (
    ScheduleAccepted,
    ScheduleBackfillRequest,
    ScheduleCreate,
    ScheduleList,
    ScheduleNote,
    ScheduleRead,
    ScheduleRunNow,
    ScheduleUpdate,
)
from api.services import schedules as service
from auterity.audit import AuditContext

router = APIRouter(prefix="/schedules", tags=["schedules"])


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
    row = await service.create_schedule(
        session, client, settings, principal, body, AuditContext.of(request)
    )
    return await service.read(client, row)


@router.get("", response_model=ScheduleList)
async def list_schedules(
    session: SessionDep,
    client: TemporalDep,
    _principal: ExecutionsReader,
    graph_id: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Offset = 0,
) -> ScheduleList:
    """The tenant's schedules, newest first, each with its state from Temporal."""
    items = await service.list_schedules(
        session, client, graph_id=graph_id, limit=limit, offset=offset
    )
    return ScheduleList(items=items)


@router.get("/{schedule_id}", response_model=ScheduleRead)
async def read_schedule(
    schedule_id: str, session: SessionDep, client: TemporalDep, principal: ExecutionsReader
) -> ScheduleRead:
    """Spec, policy, state, the next run times and the recent runs with their execution ids."""
    return await service.read(
        client, await service.find_schedule(session, principal.tenant_slug, schedule_id)
    )


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
    row = await service.update_schedule(
        session, client, settings, principal, schedule_id, body,
        AuditContext.of(request),
    )  # fmt: skip
    return await service.read(client, row)


@router.delete("/{schedule_id}", status_code=204)
async def delete_schedule(
    schedule_id: str,
    session: SessionDep,
    client: TemporalDep,
    principal: TriggersManager,
    request: Request,
) -> Response:
    """Delete a schedule; runs it already started are unaffected."""
    await service.delete_schedule(session, client, principal, schedule_id, AuditContext.of(request))
    return Response(status_code=204)


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
    row = await service.pause_or_resume(
        session, client, principal, schedule_id, pause=True, note=body.note if body else None,
        context=AuditContext.of(request),
    )  # fmt: skip
    return await service.read(client, row)


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
    row = await service.pause_or_resume(
        session, client, principal, schedule_id, pause=False, note=body.note if body else None,
        context=AuditContext.of(request),
    )  # fmt: skip
    return await service.read(client, row)


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
    await service.trigger_now(
        session, client, principal, schedule_id, body.overlap if body else None,
        AuditContext.of(request),
    )  # fmt: skip
    return ScheduleAccepted(id=schedule_id, status="triggered")


@router.post("/{schedule_id}/backfill", status_code=202, response_model=ScheduleAccepted)
async def backfill_schedule(
    schedule_id: str,
    body: ScheduleBackfillRequest,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
    principal: TriggersManager,
    request: Request,
) -> ScheduleAccepted:
    """Take the actions the schedule would have taken between start and end, now (at most
    AUTERITY_SCHEDULE_BACKFILL_MAX_ACTIONS runs)."""
    await service.backfill(
        session, client, principal, schedule_id, body, AuditContext.of(request),
        max_actions=settings.schedule_backfill_max_actions,
    )  # fmt: skip
    return ScheduleAccepted(id=schedule_id, status="backfilling")
