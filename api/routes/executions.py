"""Executions: start (idempotently), read, list, cancel, retry from the failed node, watch live.

Run state is Temporal's: reads come from its visibility, history and the run's
`state` query, never from a copy in the database. A run is started under the graph
it runs (`/graphs/{graph_id}/executions`), so the router spells its paths in full.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, WebSocket, WebSocketDisconnect
from pydantic import AwareDatetime

from api.auth import (
    ExecutionsCanceller,
    ExecutionsReader,
    ExecutionsStarter,
    bearer_credential,
    principal_or_none,
)
from api.deps import SessionDep, SettingsDep, StateDep, TemporalDep, state_of
from api.problems import Problem
from api.schemas.executions import ExecutionList, ExecutionRead, ExecutionStart, ExecutionStarted
from api.services import events
from api.services import executions as service
from auterity.audit import AuditContext
from auterity.security.permissions import Permission

router = APIRouter(tags=["executions"])


@router.post(
    "/graphs/{graph_id}/executions",
    status_code=201,
    response_model=ExecutionStarted,
    responses={200: {"description": "An earlier start with the same Idempotency-Key"}},
)
async def create_execution(
    graph_id: str,
    body: ExecutionStart,
    session: SessionDep,
    client: TemporalDep,
    principal: ExecutionsStarter,
    request: Request,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> ExecutionStarted:
    """Start a run of the graph's current (or given) version with validated inputs.

    Without an Idempotency-Key the run is certainly new, so its audit entry is written
    while Temporal starts it (write-ahead): if Temporal then refuses, a second entry
    records the failure; if the entry cannot be written, the run is terminated. With a
    key, the entry is written only once Temporal says the run is new, not a replay.
    """
    state = state_of(request)
    started = await service.start(
        session, client, state.audit_writer, state.settings.task_queue, principal, graph_id,
        body, idempotency_key=idempotency_key, context=AuditContext.of(request),
        blob_threshold_bytes=state.settings.blob_threshold_bytes,
        llm_task_queue=state.settings.llm_task_queue,
    )  # fmt: skip
    if not started.created:
        response.status_code = 200
    return started


@router.get("/executions", response_model=ExecutionList)
async def list_executions(
    client: TemporalDep,
    settings: SettingsDep,
    principal: ExecutionsReader,
    graph_id: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[
        str | None, Query(description="running, completed, failed, cancelled…")
    ] = None,
    trigger: Annotated[str | None, Query(max_length=64)] = None,
    started_after: AwareDatetime | None = None,
    started_before: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=4000)] = None,
) -> ExecutionList:
    """The tenant's executions through Temporal visibility, newest first, paginated."""
    return await service.list_executions(
        client, service.cursor_keys(settings), principal.tenant_slug, graph_id=graph_id, status=status, trigger=trigger,
        started_after=started_after, started_before=started_before, limit=limit, cursor=cursor,
    )  # fmt: skip


@router.get("/executions/{execution_id}", response_model=ExecutionRead)
async def read_execution(
    execution_id: str, client: TemporalDep, principal: ExecutionsReader
) -> ExecutionRead:
    """Status, inputs and every node's state, output, attempts, error and timings."""
    return await service.read_execution(client, principal.tenant_slug, execution_id)


@router.post("/executions/{execution_id}/cancel", status_code=202)
async def cancel_execution(
    execution_id: str,
    session: SessionDep,
    client: TemporalDep,
    principal: ExecutionsCanceller,
    request: Request,
) -> dict[str, str]:
    """Ask a running execution to cancel; running nodes are cancelled, the run ends cancelled."""
    await service.cancel(session, client, principal, execution_id, AuditContext.of(request))
    return {"id": execution_id, "status": "cancelling"}


@router.post("/executions/{execution_id}/retry", status_code=201, response_model=ExecutionStarted)
async def retry_execution(
    execution_id: str,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
    principal: ExecutionsStarter,
    request: Request,
) -> ExecutionStarted:
    """A new execution of the same version and inputs that reuses the succeeded nodes' outputs."""
    return await service.retry(
        session, client, settings.task_queue, principal, execution_id, AuditContext.of(request),
        llm_task_queue=settings.llm_task_queue,
    )  # fmt: skip


@router.websocket("/executions/{execution_id}/events")
async def stream_execution_events(
    websocket: WebSocket,
    execution_id: str,
    state: StateDep,
    access_token: Annotated[str | None, Query()] = None,
) -> None:
    """Node started/completed/failed/waiting and run finished events, live; replayed for finished runs.

    Authenticate with `Authorization: Bearer …` or `?access_token=…` (browsers cannot set headers).
    The credential is checked again every AUTERITY_STREAM_RECHECK_SECONDS: once it has expired
    or its session was revoked, the stream ends with close code 4401.
    """
    credential = bearer_credential(websocket) or access_token
    principal = await asyncio.to_thread(principal_or_none, state, credential)
    if principal is None or not principal.can(Permission.EXECUTIONS_READ):
        await websocket.close(code=4401 if principal is None else 4403)
        return
    await websocket.accept()

    async def relay() -> None:
        client = await state.temporal_client()
        await service.describe(client, principal.tenant_slug, execution_id)
        async for event in events.stream(client, execution_id):
            await websocket.send_json(event)

    async def still_allowed() -> bool:
        again = await asyncio.to_thread(principal_or_none, state, credential)
        return again is not None and again.can(Permission.EXECUTIONS_READ)

    try:
        streaming = asyncio.ensure_future(relay())
        watching = asyncio.ensure_future(
            events.until_refused(still_allowed, state.settings.stream_recheck_seconds)
        )
        await asyncio.wait({streaming, watching}, return_when=asyncio.FIRST_COMPLETED)
        if not streaming.done():  # the credential expired or was revoked: stop at once
            streaming.cancel()
            await asyncio.gather(streaming, return_exceptions=True)
            detail = "the credential expired or was revoked"
            await websocket.send_json({"type": "error", "status": 401, "detail": detail})
            await websocket.close(code=4401)
            return
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)
        streaming.result()
        await websocket.close()
    except Problem as exc:
        await websocket.send_json({"type": "error", "status": exc.status, "detail": exc.detail})
        await websocket.close(code=4404 if exc.status == 404 else 1011)
    except WebSocketDisconnect:
        return
