"""Starting, reading, listing, cancelling and retrying executions — state lives in Temporal.

Reads are built from Temporal (visibility, history, the run's `state` query), never
from a copy in the database. Each start, cancel and retry is on the audit trail; a
start without an idempotency key writes its entry while Temporal starts the run
(`write_ahead`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import jsonschema
from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.client import (
    Client,
    WorkflowExecution,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHandle,
)
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.auth import ensure_workflow_in_tenant
from api.problems import Conflict, NotFound, ServiceUnavailable, Unprocessable
from api.schemas.executions import (
    ExecutionList,
    ExecutionRead,
    ExecutionStart,
    ExecutionStarted,
    ExecutionSummary,
)
from api.services import events
from api.services import graphs as graph_service
from auterity import audit, cache
from auterity.gateway import registry
from auterity.graph import naming
from auterity.graph.compiler import ExecutionPlan, compile_graph
from auterity.graph.model import Graph
from auterity.graph.references import PINNED_MEMO, PINNED_REFERENCES_MEMO, pin, pinned_versions
from auterity.graph.run import WORKFLOW_NAME, GraphRunInput
from auterity.models.audit import AuditEntry
from auterity.models.graphs import GraphVersion
from auterity.security.crypto import KeyRing
from auterity.security.principal import Principal
from auterity.security.scoping import current_tenant

log = logging.getLogger("auterity.api.executions")


class ExecutionStatus(StrEnum):
    """An execution's status as the API names it (`status` in reads and the list filter)."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TERMINATED = "terminated"
    TIMED_OUT = "timed_out"
    UNKNOWN = "unknown"


STATUS_NAMES = {
    WorkflowExecutionStatus.RUNNING: ExecutionStatus.RUNNING,
    WorkflowExecutionStatus.COMPLETED: ExecutionStatus.COMPLETED,
    WorkflowExecutionStatus.FAILED: ExecutionStatus.FAILED,
    WorkflowExecutionStatus.CANCELED: ExecutionStatus.CANCELLED,
    WorkflowExecutionStatus.TERMINATED: ExecutionStatus.TERMINATED,
    WorkflowExecutionStatus.CONTINUED_AS_NEW: ExecutionStatus.RUNNING,
    WorkflowExecutionStatus.TIMED_OUT: ExecutionStatus.TIMED_OUT,
}
# The ExecutionStatus values a visibility query can filter on.
VISIBILITY_STATUS = {
    ExecutionStatus.RUNNING: "Running",
    ExecutionStatus.COMPLETED: "Completed",
    ExecutionStatus.FAILED: "Failed",
    ExecutionStatus.CANCELLED: "Canceled",
    ExecutionStatus.TERMINATED: "Terminated",
    ExecutionStatus.TIMED_OUT: "TimedOut",
}


def status_name(status: WorkflowExecutionStatus | None) -> ExecutionStatus:
    if status is None:
        return ExecutionStatus.UNKNOWN
    return STATUS_NAMES.get(status, ExecutionStatus.UNKNOWN)


def summary(description: WorkflowExecution) -> ExecutionSummary:
    """What visibility says about a run: ids and trigger from its search attributes, status."""
    attributes = description.typed_search_attributes
    return ExecutionSummary(
        id=description.id,
        graph_id=attributes.get(naming.GRAPH),
        version_id=attributes.get(naming.GRAPH_VERSION),
        trigger=attributes.get(naming.TRIGGER),
        status=status_name(description.status),
        started_at=description.start_time,
        closed_at=description.close_time,
    )


@dataclass(frozen=True)
class Started:
    execution_id: str
    created: bool


def check_inputs(
    schema: dict[str, Any] | jsonschema.Draft202012Validator, inputs: dict[str, Any]
) -> None:
    """422 naming every input that does not match the graph's input schema."""
    validator = (
        schema
        if isinstance(schema, jsonschema.Draft202012Validator)
        else jsonschema.Draft202012Validator(schema)
    )
    errors = [
        {"loc": ["body", "inputs", *error.absolute_path], "msg": error.message}
        for error in sorted(validator.iter_errors(inputs), key=lambda e: list(e.path))
    ]
    if errors:
        where = ".".join(str(part) for part in errors[0]["loc"])
        raise Unprocessable(f"{where}: {errors[0]['msg']}", errors=errors)


_PLANS: OrderedDict[str, tuple[jsonschema.Draft202012Validator, ExecutionPlan]] = OrderedDict()
_PLAN_CACHE_SIZE = 512


def compiled(version: GraphVersion) -> tuple[jsonschema.Draft202012Validator, ExecutionPlan]:
    """The version's input validator and plan; versions are immutable and content-hashed,
    so both are cached by version id."""
    cached = _PLANS.get(version.version_id)
    if cached is not None:
        _PLANS.move_to_end(version.version_id)
        return cached
    graph = Graph.model_validate(version.definition)
    cached = (jsonschema.Draft202012Validator(graph.inputs), compile_graph(graph))
    _PLANS[version.version_id] = cached
    if len(_PLANS) > _PLAN_CACHE_SIZE:
        _PLANS.popitem(last=False)
    return cached


@dataclass(frozen=True)
class Runnable:
    """A graph version as a run needs it: ids, input validator and plan."""

    graph_id: str
    version_id: str
    validator: jsonschema.Draft202012Validator
    plan: ExecutionPlan


def runnable(session: Session, graph_id: str, version: str | None = None) -> Runnable:
    """The graph's current (or given) version, ready to run; 404 if there is none.

    Kept in `auterity.cache`: saving or deleting the graph forgets the current version."""

    def load() -> Runnable:
        row = graph_service.get_version(session, graph_id, version)
        validator, plan = compiled(row)
        return Runnable(row.graph_id, row.version_id, validator, plan)

    return cache.cached(session, current_tenant(session), ("runnable", graph_id, version), load)


def run_input(
    session: Session,
    tenant_slug: str,
    version: Runnable,
    inputs: dict[str, Any],
    *,
    trigger: str,
    pin: bool = True,
    blob_threshold_bytes: int,
    llm_task_queue: str,
) -> GraphRunInput:
    """What GraphWorkflow starts with: the version's plan, validated inputs, and the plans of
    every graph version its subgraph nodes may run (loaded from the tenant's graphs). Registry
    references are checked now and, with `pin`, pinned now, once: the run keeps the versions
    its aliases named at its start. Without it (a schedule's input, fixed when saved) the run
    pins them itself when it starts.

    `blob_threshold_bytes` (AUTERITY_BLOB_THRESHOLD_BYTES): outputs the workflow computes
    whose JSON is larger go to the blob store; the run keeps the value it started with.
    `llm_task_queue` (AUTERITY_LLM_TASK_QUEUE): where its llm nodes run; empty: the run's
    own task queue."""
    check_inputs(version.validator, inputs)
    subgraphs = resolve_subgraphs(lambda g, v: runnable(session, g, v).plan, version.plan)

    def pinned(plan: ExecutionPlan) -> ExecutionPlan:
        try:
            pinned_plan = registry.pin_references(session, plan)
        except registry.UnknownReference as exc:
            raise Unprocessable(f"graph {plan.name!r}: {exc}") from None
        return pinned_plan if pin else plan

    return GraphRunInput(
        tenant=tenant_slug,
        graph_id=version.graph_id,
        version_id=version.version_id,
        plan=pinned(version.plan),
        inputs=inputs,
        trigger=trigger,
        subgraphs={key: pinned(plan) for key, plan in subgraphs.items()},
        blob_threshold_bytes=blob_threshold_bytes,
        llm_task_queue=llm_task_queue or None,
    )


async def start_execution(
    client: Client,
    task_queue: str,
    run: GraphRunInput,
    *,
    idempotency_key: str | None = None,
    memo: dict[str, Any] | None = None,
    workflow_id: str | None = None,
) -> Started:
    """Start GraphWorkflow; a repeated idempotency key returns the existing execution.

    `workflow_id`: the id `naming.run_id` gave beforehand (a new one if unset)."""
    workflow_id = workflow_id or naming.run_id(run.tenant, run.graph_id, idempotency_key)
    trigger = run.trigger or naming.Trigger.API
    pinned = pinned_versions(run.plan)
    if pinned:  # a run that starts unpinned records them itself, in the same memo key
        memo = {**(memo or {}), PINNED_MEMO: pinned}
    attributes = naming.run_attributes(run.tenant, run.graph_id, run.version_id, trigger)
    try:
        await client.start_workflow(
            WORKFLOW_NAME,
            run,
            id=workflow_id,
            task_queue=task_queue,
            search_attributes=attributes,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=f"graph {run.graph_id} @ {run.version_id} ({trigger})",
            memo=memo_payloads(client, memo),
            priority=naming.run_priority(run.tenant),
        )
    except WorkflowAlreadyStartedError:
        if idempotency_key is None:
            raise
        return Started(workflow_id, False)
    return Started(workflow_id, True)


def memo_payloads(client: Client, memo: dict[str, Any] | None) -> dict[str, Any] | None:
    """The memo's values as payloads, converted in one call: temporalio otherwise awaits a
    whole encode per value (about a tenth of the start route's CPU for its three). Left to
    temporalio when a codec or external storage must see them."""
    converter = client.data_converter
    if not memo or converter.payload_codec is not None or converter.external_storage is not None:
        return memo
    payloads = converter.payload_converter.to_payloads(list(memo.values()))
    return dict(zip(memo, payloads, strict=True))


async def start(
    session: Session,
    client: Client,
    writer: audit.Writer,
    task_queue: str,
    principal: Principal,
    graph_id: str,
    body: ExecutionStart,
    *,
    idempotency_key: str | None,
    context: audit.AuditContext,
    blob_threshold_bytes: int,
    llm_task_queue: str,
) -> ExecutionStarted:
    """Start a run of the graph's current (or given) version with validated inputs.

    Without an idempotency key the run is certainly new, so its audit entry is written
    while Temporal starts it (`write_ahead`). With a key, the entry is written once
    Temporal says the run is new, or on a replay (`created: false`) of a run whose entry
    is missing because the trail was down when it started (`record_or_503`).
    """

    def prepare() -> tuple[Runnable, GraphRunInput]:
        version = runnable(session, graph_id, body.version)
        run = run_input(
            session, principal.tenant_slug, version, body.inputs, trigger=naming.Trigger.API,
            blob_threshold_bytes=blob_threshold_bytes, llm_task_queue=llm_task_queue,
        )  # fmt: skip
        return version, run

    # Database work runs off the event loop, so slow queries never stall other requests.
    version, run = await cache.from_cache(session, prepare)
    workflow_id = naming.run_id(principal.tenant_slug, graph_id, idempotency_key)

    def record(
        outcome: audit.Outcome = audit.Outcome.SUCCESS, error: str | None = None
    ) -> Awaitable[str]:
        details = {"version_id": version.version_id, "idempotency_key": bool(idempotency_key)}
        return writer.append(
            session, principal, "execution.start", request=context, outcome=outcome,
            targets=[audit.Target("execution", workflow_id), audit.Target("graph", graph_id)],
            details=details if error is None else {**details, "error": error},
        )  # fmt: skip

    def start_run() -> Awaitable[Started]:
        return start_execution(
            client, task_queue, run, idempotency_key=idempotency_key,
            memo={"started_by": principal.id, "started_by_name": principal.name,
                  "started_by_user": principal.user_id},
            workflow_id=workflow_id,
        )  # fmt: skip

    if idempotency_key:
        started = await start_run()
        if started.created or not await cache.from_cache(
            session, lambda: has_start_entry(session, workflow_id)
        ):
            await record_or_503(record)
    else:
        started = await write_ahead(record, start_run, client, workflow_id)
    return ExecutionStarted(
        id=started.execution_id, graph_id=graph_id, version_id=version.version_id,
        created=started.created,
    )  # fmt: skip


def has_start_entry(session: Session, workflow_id: str) -> bool:
    """Whether the run's `execution.start` entry is on the audit trail (a successful one)."""
    cache.going_online(session)
    query = select(AuditEntry.id).where(
        AuditEntry.action == "execution.start",
        AuditEntry.target_id == workflow_id,
        AuditEntry.outcome == audit.Outcome.SUCCESS,
    )
    return session.scalars(query.limit(1)).first() is not None


async def record_or_503(record: Callable[[], Awaitable[Any]]) -> None:
    """Write a keyed run's entry after Temporal started it. If the trail is down the run
    keeps going and the caller gets 503: repeating the request with the same key writes
    the entry then (a replay whose run has no entry writes it), so none is lost."""
    try:
        await record()
    except Exception as exc:
        log.exception("audit entry of a keyed start not written; the key's retry writes it")
        raise ServiceUnavailable(
            "the run started but its audit entry could not be written (its database is "
            "unavailable): "
            "repeat the request with the same Idempotency-Key"
        ) from exc


async def write_ahead(
    record: Callable[..., Awaitable[Any]],
    start: Callable[[], Awaitable[Started]],
    client: Client,
    workflow_id: str,
) -> Started:
    """Run `record` (the audit entry) and `start` (the run) together; no run is left
    without its entry. A refused start is recorded again as a failure; a run whose entry
    cannot be written is terminated and answered with 503.

    Both are tasks, the start's first: its request is built and on its way to Temporal
    before the entry is built and handed to the audit writer's thread, which would
    otherwise contend with the request's building for the interpreter and the CPU."""
    starting = asyncio.ensure_future(start())
    recorded = asyncio.ensure_future(record())
    try:
        started = await starting
    except BaseException as exc:
        with contextlib.suppress(Exception):
            await recorded
            await record(
                audit.Outcome.FAILURE, str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            )
        raise
    try:
        await recorded
    except Exception as exc:
        log.exception("audit entry of %s not written; terminating the run", workflow_id)
        with contextlib.suppress(Exception):
            await client.get_workflow_handle(workflow_id).terminate(
                reason="its audit entry could not be written"
            )
        raise ServiceUnavailable(
            "the audit trail's database is unavailable; the run was not started"
        ) from exc
    return started


def handle_for(client: Client, tenant_slug: str, workflow_id: str) -> WorkflowHandle[Any, Any]:
    """A handle on one of the tenant's executions; another tenant's id is a 404."""
    return client.get_workflow_handle(ensure_workflow_in_tenant(workflow_id, tenant_slug))


async def describe(
    client: Client, tenant_slug: str, workflow_id: str
) -> WorkflowExecutionDescription:
    handle = handle_for(client, tenant_slug, workflow_id)
    try:
        return await handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise NotFound(f"execution '{workflow_id}' not found") from None
        raise


def visibility_query(
    tenant_slug: str,
    *,
    graph_id: str | None = None,
    status: str | None = None,
    trigger: str | None = None,
    started_after: datetime | None = None,
    started_before: datetime | None = None,
) -> str:
    """A Temporal visibility query, always scoped to the tenant."""
    clauses = [f"AuterityTenant = {_quote(tenant_slug)}", "WorkflowType = 'GraphWorkflow'"]
    if graph_id:
        clauses.append(f"AuterityGraph = {_quote(graph_id)}")
    if status:
        if status not in VISIBILITY_STATUS:
            raise Unprocessable(
                f"status must be one of {', '.join(VISIBILITY_STATUS)}",
                errors=[{"loc": ["query", "status"], "msg": "unknown status"}],
            )
        clauses.append(f"ExecutionStatus = '{VISIBILITY_STATUS[ExecutionStatus(status)]}'")
    if trigger:
        clauses.append(f"AuterityTrigger = {_quote(trigger)}")
    if started_after:
        clauses.append(f"StartTime >= '{started_after.isoformat()}'")
    if started_before:
        clauses.append(f"StartTime < '{started_before.isoformat()}'")
    return " AND ".join(clauses)


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


def check_time_range(started_after: datetime | None, started_before: datetime | None) -> None:
    """422 for a bound before 1970 (visibility keeps Unix times) or an empty range."""
    for name, value in (("started_after", started_after), ("started_before", started_before)):
        if value is not None and value < EARLIEST:
            raise Unprocessable(
                f"{name} is before 1970-01-01",
                errors=[{"loc": ["query", name], "msg": "before 1970-01-01T00:00:00Z"}],
            )
    if started_after and started_before and started_after >= started_before:
        raise Unprocessable(
            "started_after must be before started_before",
            errors=[{"loc": ["query", "started_after"], "msg": "not before started_before"}],
        )


async def list_executions(
    client: Client,
    cursors: KeyRing,
    tenant_slug: str,
    *,
    graph_id: str | None,
    status: str | None,
    trigger: str | None,
    started_after: datetime | None,
    started_before: datetime | None,
    limit: int,
    cursor: str | None,
) -> ExecutionList:
    """The tenant's executions through Temporal visibility, newest first, one page.

    Cursors are Temporal's page tokens sealed with a MAC bound to the tenant, so a cursor
    this endpoint did not hand out is a 422 and never reaches Temporal."""
    check_time_range(started_after, started_before)
    query = visibility_query(
        tenant_slug, graph_id=graph_id, status=status, trigger=trigger,
        started_after=started_after, started_before=started_before,
    )  # fmt: skip
    token = open_cursor(cursors, tenant_slug, cursor) if cursor else None
    iterator = client.list_workflows(query, page_size=limit, next_page_token=token)
    try:
        await iterator.fetch_next_page(page_size=limit)
    except RPCError as exc:
        if exc.status != RPCStatusCode.INVALID_ARGUMENT:
            raise
        raise Unprocessable(
            f"Temporal refused the listing: {exc.message}",
            errors=[{"loc": ["query"], "msg": exc.message}],
        ) from None
    next_token = iterator.next_page_token
    return ExecutionList(
        items=[summary(item) for item in iterator.current_page or []],
        next_cursor=seal_cursor(cursors, tenant_slug, next_token) if next_token else None,
    )


async def read_execution(client: Client, tenant_slug: str, workflow_id: str) -> ExecutionRead:
    """Status, inputs and every node's state (from the run's `state` query, if it answers)."""
    description = await describe(client, tenant_slug, workflow_id)
    handle = handle_for(client, tenant_slug, workflow_id)
    started, state = await asyncio.gather(started_input(client, handle), events.query_state(handle))
    memo = await description.memo()
    read = ExecutionRead(
        **summary(description).model_dump(),
        inputs=started.inputs,
        retry_of=memo.get("retry_of"),
        pinned=memo.get(PINNED_MEMO) or {},
        history_events=description.history_length,
    )
    if state is not None:
        read.nodes = state.nodes
        read.tasks = [task.model_dump(mode="json") for task in state.tasks]
        read.failed_node = state.failed_node
        read.error = state.error.model_dump(mode="json") if state.error else None
    return read


_MAC_BYTES = 16


def cursor_keys(settings: Any) -> KeyRing:
    """The keys that seal execution-list cursors (their own HKDF purpose)."""
    return KeyRing.from_settings(settings, "execution-cursors")


def _cursor_mac(key: bytes, tenant_slug: str, token: bytes) -> bytes:
    message = tenant_slug.encode() + b"\0" + token
    return hmac.new(key, message, hashlib.sha256).digest()[:_MAC_BYTES]


def seal_cursor(keys: KeyRing, tenant_slug: str, token: bytes) -> str:
    """Temporal's page token, with a MAC that binds it to the tenant."""
    sealed = _cursor_mac(keys.current, tenant_slug, token) + token
    return base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def open_cursor(keys: KeyRing, tenant_slug: str, cursor: str) -> bytes:
    """The page token of a cursor this endpoint handed to this tenant, else 422."""
    try:
        sealed = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except ValueError:
        sealed = b""
    mac, token = sealed[:_MAC_BYTES], sealed[_MAC_BYTES:]
    if token and any(
        hmac.compare_digest(mac, _cursor_mac(key, tenant_slug, token)) for key in keys.keys.values()
    ):
        return token
    raise Unprocessable(
        "cursor: not a cursor this endpoint returned",
        errors=[{"loc": ["query", "cursor"], "msg": "invalid cursor"}],
    )


async def cancel(
    session: Session,
    client: Client,
    principal: Principal,
    workflow_id: str,
    context: audit.AuditContext,
) -> None:
    """Ask a running execution to cancel (409 if it is not running)."""
    tenant_slug = principal.tenant_slug
    description = await describe(client, tenant_slug, workflow_id)
    if description.status != WorkflowExecutionStatus.RUNNING:
        raise Conflict(
            f"execution '{workflow_id}' is {status_name(description.status)}, not running"
        )
    await handle_for(client, tenant_slug, workflow_id).cancel()
    await asyncio.to_thread(
        lambda: audit.record(
            session, principal, "execution.cancel", request=context,
            targets=[audit.Target("execution", workflow_id)],
        )
    )  # fmt: skip


async def retry(
    session: Session,
    client: Client,
    task_queue: str,
    principal: Principal,
    workflow_id: str,
    context: audit.AuditContext,
    *,
    llm_task_queue: str,
) -> ExecutionStarted:
    """A new execution of the same version and inputs that reuses the succeeded nodes'
    outputs; only a failed, cancelled, terminated or timed-out run can be retried. Its llm
    nodes run where new runs' do now (`llm_task_queue`), as it starts on today's workers."""
    description = await describe(client, principal.tenant_slug, workflow_id)
    if description.status in (WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.COMPLETED):
        raise Conflict(
            f"execution '{workflow_id}' is {status_name(description.status)}; "
            "only a failed, cancelled, terminated or timed-out run can be retried"
        )
    handle = handle_for(client, principal.tenant_slug, workflow_id)
    original = _pinned_as_before(
        await started_input(client, handle), (await description.memo()).get(PINNED_REFERENCES_MEMO)
    )
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
            "trigger": naming.Trigger.RETRY.value,
            "reuse_outputs": reuse,
            "carried": {},
            "continued": 0,
            "llm_task_queue": llm_task_queue or None,
        }
    )
    memo = {
        "started_by": principal.id, "started_by_name": principal.name,
        "started_by_user": principal.user_id, "retry_of": workflow_id,
    }  # fmt: skip
    started = await start_execution(client, task_queue, run, memo=memo)
    await asyncio.to_thread(
        lambda: audit.record(
            session, principal, "execution.retry", request=context,
            targets=[audit.Target("execution", started.execution_id),
                     audit.Target("execution", workflow_id)],
            details={"reused_nodes": sorted(reuse)},
        )
    )  # fmt: skip
    return ExecutionStarted(
        id=started.execution_id, graph_id=original.graph_id, version_id=original.version_id,
        created=True, retry_of=workflow_id,
    )  # fmt: skip


def subgraph_refs(plan: ExecutionPlan) -> list[tuple[str, str, str]]:
    """(node id, graph id, version id) of every subgraph a plan may run, foreach bodies included."""
    refs = []
    for node in plan.nodes.values():
        config = node.config
        if node.kind == "foreach" and config.get("node", {}).get("type") == "subgraph":
            config = config["node"]["config"]
        elif node.kind != "subgraph":
            continue
        refs.append((node.id, config["graph_id"], config["version"]))
    return refs


def resolve_subgraphs(
    load: Any, plan: ExecutionPlan, found: dict[str, ExecutionPlan] | None = None, depth: int = 0
) -> dict[str, ExecutionPlan]:
    """Plans of every graph version reachable through subgraph nodes, loaded with `load`
    (graph id, version id) -> ExecutionPlan; a missing one is a 422 naming the node."""
    found = {} if found is None else found
    if depth > 10:
        raise Unprocessable("subgraphs nest deeper than 10 levels")
    for node_id, graph_id, version in subgraph_refs(plan):
        if version in found:
            continue
        try:
            child = load(graph_id, version)
        except NotFound:
            raise Unprocessable(
                f"node '{node_id}' runs graph '{graph_id}' version '{version}', which does not exist",
                errors=[{"loc": ["nodes", node_id, "config", "version"], "msg": "unknown version"}],
            ) from None
        found[version] = child
        resolve_subgraphs(load, child, found, depth + 1)
    return found


def _pinned_as_before(run: GraphRunInput, versions: Any) -> GraphRunInput:
    """A run that pinned its registry references itself (a scheduled one), with its input
    pinned to the versions it used, for a retry; any other run as it is."""
    if not isinstance(versions, dict) or not versions:
        return run
    return run.model_copy(
        update={
            "plan": pin(run.plan, versions),
            "subgraphs": {key: pin(plan, versions) for key, plan in run.subgraphs.items()},
        }
    )


async def started_input(client: Client, handle: WorkflowHandle[Any, Any]) -> GraphRunInput:
    """The input the current run of an execution started with (first event of its history)."""
    async for event in handle.fetch_history_events(page_size=1):
        payloads = event.workflow_execution_started_event_attributes.input.payloads
        [run] = await client.data_converter.decode(payloads, [GraphRunInput])
        return run  # type: ignore[no-any-return]
    raise NotFound(f"execution '{handle.id}' has no history")
