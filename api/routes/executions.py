"""Executions: start (idempotently), read, list, cancel, retry from the failed node, watch live.

Run state is Temporal's: reads come from its visibility, history and the run's
`state` query, never from a copy in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field
from temporalio.client import WorkflowExecutionStatus

from api.auth import (
    ExecutionsCanceller,
    ExecutionsReader,
    ExecutionsStarter,
    bearer_credential,
    principal_or_none,
)
from api.deps import SessionDep, SettingsDep, StateDep, TemporalDep, state_of
from api.problems import Conflict, Problem, ServiceUnavailable
from api.schemas import Body
from api.services import events
from api.services import executions as service
from auterity import audit, cache
from auterity.audit import Target
from auterity.graph import naming
from auterity.graph.run import NodeState
from auterity.security.permissions import Permission

log = logging.getLogger("auterity.api.executions")
router = APIRouter(prefix="/v1", tags=["executions"])


class ExecutionStart(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"inputs": {"name": "Ada"}}, {"inputs": {"name": "Ada"}, "version": "3"}]
        }
    )

    inputs: dict[str, Any] = Field(default_factory=dict, examples=[{"name": "Ada"}])
    version: str | None = Field(
        default=None, description="A version id or number; the current version if unset"
    )


class ExecutionStarted(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "acme:gr_3f9a1c2b7d4e:9b1deb4d3b7d4bad9bdd2b0d7b3dcb6d",
                    "graph_id": "gr_3f9a1c2b7d4e",
                    "version_id": "v_5e884898da28047151d0e56f",
                    "created": True,
                    "retry_of": None,
                }
            ]
        }
    )

    id: str
    graph_id: str
    version_id: str
    created: bool = Field(description="False when an Idempotency-Key matched an earlier start")
    retry_of: str | None = None


class ExecutionSummary(BaseModel):
    id: str
    graph_id: str | None
    version_id: str | None
    trigger: str | None
    status: str
    started_at: datetime | None
    closed_at: datetime | None


class ExecutionList(BaseModel):
    items: list[ExecutionSummary]
    next_cursor: str | None = None


class ExecutionRead(ExecutionSummary):
    inputs: dict[str, Any] | None = None
    nodes: dict[str, NodeState] | None = None
    tasks: list[dict[str, Any]] = Field(default_factory=list)
    failed_node: str | None = None
    error: dict[str, Any] | None = None
    retry_of: str | None = None
    history_events: int | None = None


def summary(description: Any) -> ExecutionSummary:
    attributes = description.typed_search_attributes
    return ExecutionSummary(
        id=description.id,
        graph_id=attributes.get(naming.GRAPH),
        version_id=attributes.get(naming.GRAPH_VERSION),
        trigger=attributes.get(naming.TRIGGER),
        status=service.status_name(description.status),
        started_at=description.start_time,
        closed_at=description.close_time,
    )


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

    def prepare() -> tuple[service.Runnable, Any]:
        version = service.runnable(session, graph_id, body.version)
        run = service.run_input(
            session, principal.tenant_slug, version, body.inputs, trigger=naming.Trigger.API
        )
        return version, run

    # Database work runs off the event loop, so slow queries never stall other requests.
    version, run = await cache.from_cache(session, prepare)
    workflow_id = naming.run_id(principal.tenant_slug, graph_id, idempotency_key)

    def record(outcome: audit.Outcome = "success", error: str | None = None) -> Any:
        details = {"version_id": version.version_id, "idempotency_key": bool(idempotency_key)}
        return state.audit_writer.append(
            session, principal, "execution.start", request=request, outcome=outcome,
            targets=[Target("execution", workflow_id), Target("graph", graph_id)],
            details=details if error is None else {**details, "error": error},
        )  # fmt: skip

    def start() -> Any:
        return service.start_execution(
            client, state.settings.task_queue, run, idempotency_key=idempotency_key,
            memo={"started_by": principal.id, "started_by_name": principal.name},
            workflow_id=workflow_id,
        )  # fmt: skip

    if idempotency_key:
        started = await start()
        if started.created:
            await record()
        else:
            response.status_code = 200
    else:
        started = await _write_ahead(record, start, client, workflow_id)
    return ExecutionStarted(
        id=started.execution_id, graph_id=graph_id, version_id=version.version_id,
        created=started.created,
    )  # fmt: skip


async def _write_ahead(record: Any, start: Any, client: Any, workflow_id: str) -> Any:
    """Run `record` and `start` together; no run is left without its audit entry."""
    recorded = asyncio.ensure_future(record())
    try:
        started = await start()
    except BaseException as exc:
        with contextlib.suppress(Exception):
            await recorded
            await record("failure", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        raise
    try:
        await recorded
    except Exception as exc:
        log.exception("audit entry of %s not written; terminating the run", workflow_id)
        with contextlib.suppress(Exception):
            await client.get_workflow_handle(workflow_id).terminate(
                reason="its audit entry could not be written"
            )
        raise ServiceUnavailable("the audit trail is unavailable; the run was not started") from exc
    return started


@router.get("/executions", response_model=ExecutionList)
async def list_executions(
    client: TemporalDep,
    principal: ExecutionsReader,
    graph_id: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[
        str | None, Query(description="running, completed, failed, cancelled…")
    ] = None,
    trigger: Annotated[str | None, Query(max_length=64)] = None,
    started_after: datetime | None = None,
    started_before: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> ExecutionList:
    """The tenant's executions through Temporal visibility, newest first, paginated."""
    query = service.visibility_query(
        principal.tenant_slug, graph_id=graph_id, status=status, trigger=trigger,
        started_after=started_after, started_before=started_before,
    )  # fmt: skip
    page, next_cursor = await service.list_page(client, query, page_size=limit, cursor=cursor)
    return ExecutionList(items=[summary(item) for item in page], next_cursor=next_cursor)


@router.get("/executions/{execution_id}", response_model=ExecutionRead)
async def read_execution(
    execution_id: str, client: TemporalDep, principal: ExecutionsReader
) -> ExecutionRead:
    """Status, inputs and every node's state, output, attempts, error and timings."""
    description = await service.describe(client, principal.tenant_slug, execution_id)
    handle = service.handle_for(client, principal.tenant_slug, execution_id)
    started, state = await asyncio.gather(
        service.started_input(client, handle), events.query_state(handle)
    )
    read = ExecutionRead(
        **summary(description).model_dump(),
        inputs=started.inputs,
        retry_of=(await description.memo()).get("retry_of"),
        history_events=description.history_length,
    )
    if state is not None:
        read.nodes = state.nodes
        read.tasks = [task.model_dump(mode="json") for task in state.tasks]
        read.failed_node = state.failed_node
        read.error = state.error.model_dump(mode="json") if state.error else None
    return read


@router.post("/executions/{execution_id}/cancel", status_code=202)
async def cancel_execution(
    execution_id: str,
    session: SessionDep,
    client: TemporalDep,
    principal: ExecutionsCanceller,
    request: Request,
) -> dict[str, str]:
    """Ask a running execution to cancel; running nodes are cancelled, the run ends cancelled."""
    await service.cancel(client, principal.tenant_slug, execution_id)
    audit.record(
        session, principal, "execution.cancel", request=request,
        targets=[Target("execution", execution_id)],
    )  # fmt: skip
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
    description = await service.describe(client, principal.tenant_slug, execution_id)
    if description.status in (WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.COMPLETED):
        raise Conflict(
            f"execution '{execution_id}' is {service.status_name(description.status)}; "
            "only a failed, cancelled, terminated or timed-out run can be retried"
        )
    handle = service.handle_for(client, principal.tenant_slug, execution_id)
    original = await service.started_input(client, handle)
    state = await events.query_state(handle)
    reuse = {
        node_id: node
        for node_id, node in {
            **original.reuse_outputs,
            **original.carried,
            **(state.nodes if state else {}),
        }.items()
        if node.status == "succeeded"
    }
    run = original.model_copy(
        update={
            "trigger": naming.Trigger.RETRY.value, "reuse_outputs": reuse, "carried": {}, "continued": 0,
        }
    )  # fmt: skip
    started = await service.start_execution(
        client, settings.task_queue, run,
        memo={"started_by": principal.id, "started_by_name": principal.name, "retry_of": execution_id},
    )  # fmt: skip
    audit.record(
        session, principal, "execution.retry", request=request,
        targets=[Target("execution", started.execution_id), Target("execution", execution_id)],
        details={"reused_nodes": sorted(reuse)},
    )  # fmt: skip
    return ExecutionStarted(
        id=started.execution_id, graph_id=original.graph_id, version_id=original.version_id,
        created=True, retry_of=execution_id,
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
    """
    credential = bearer_credential(websocket) or access_token
    principal = await asyncio.to_thread(principal_or_none, state, credential)
    if principal is None or not principal.can(Permission.EXECUTIONS_READ):
        await websocket.close(code=4401 if principal is None else 4403)
        return
    await websocket.accept()
    try:
        client = await state.temporal_client()
        await service.describe(client, principal.tenant_slug, execution_id)
        async for event in events.stream(client, execution_id):
            await websocket.send_json(event)
        await websocket.close()
    except Problem as exc:
        await websocket.send_json({"type": "error", "status": exc.status, "detail": exc.detail})
        await websocket.close(code=4404 if exc.status == 404 else 1011)
    except WebSocketDisconnect:
        return
