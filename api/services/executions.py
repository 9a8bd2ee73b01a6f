"""Starting, reading, listing, cancelling and retrying executions — state lives in Temporal."""

from __future__ import annotations

import base64
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jsonschema
from sqlalchemy.orm import Session
from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHandle,
)
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.auth import ensure_workflow_in_tenant
from api.problems import Conflict, NotFound, Unprocessable
from api.services import graphs as graph_service
from auterity import cache
from auterity.graph import naming
from auterity.graph.compiler import ExecutionPlan, compile_graph
from auterity.graph.model import Graph
from auterity.graph.run import WORKFLOW_NAME, GraphRunInput
from auterity.models.graphs import GraphVersion
from auterity.security.scoping import current_tenant

STATUS_NAMES = {
    WorkflowExecutionStatus.RUNNING: "running",
    WorkflowExecutionStatus.COMPLETED: "completed",
    WorkflowExecutionStatus.FAILED: "failed",
    WorkflowExecutionStatus.CANCELED: "cancelled",
    WorkflowExecutionStatus.TERMINATED: "terminated",
    WorkflowExecutionStatus.CONTINUED_AS_NEW: "running",
    WorkflowExecutionStatus.TIMED_OUT: "timed_out",
}
VISIBILITY_STATUS = {
    "running": "Running",
    "completed": "Completed",
    "failed": "Failed",
    "cancelled": "Canceled",
    "terminated": "Terminated",
    "timed_out": "TimedOut",
}


def status_name(status: WorkflowExecutionStatus | None) -> str:
    return STATUS_NAMES.get(status, "unknown") if status is not None else "unknown"


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
) -> GraphRunInput:
    """What GraphWorkflow starts with: the version's plan, validated inputs, and the plans of
    every graph version its subgraph nodes may run (loaded from the tenant's graphs)."""
    check_inputs(version.validator, inputs)
    return GraphRunInput(
        tenant=tenant_slug,
        graph_id=version.graph_id,
        version_id=version.version_id,
        plan=version.plan,
        inputs=inputs,
        trigger=trigger,
        subgraphs=resolve_subgraphs(lambda g, v: runnable(session, g, v).plan, version.plan),
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
            memo=memo,
        )
    except WorkflowAlreadyStartedError:
        if idempotency_key is None:
            raise
        return Started(workflow_id, False)
    return Started(workflow_id, True)


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
        clauses.append(f"ExecutionStatus = '{VISIBILITY_STATUS[status]}'")
    if trigger:
        clauses.append(f"AuterityTrigger = {_quote(trigger)}")
    if started_after:
        clauses.append(f"StartTime >= '{started_after.isoformat()}'")
    if started_before:
        clauses.append(f"StartTime < '{started_before.isoformat()}'")
    return " AND ".join(clauses)


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


async def list_page(
    client: Client, query: str, *, page_size: int, cursor: str | None
) -> tuple[list[WorkflowExecutionDescription | Any], str | None]:
    token = _decode_cursor(cursor) if cursor else None
    iterator = client.list_workflows(query, page_size=page_size, next_page_token=token)
    await iterator.fetch_next_page(page_size=page_size)
    page = list(iterator.current_page or [])
    next_token = iterator.next_page_token
    return page, base64.urlsafe_b64encode(next_token).decode() if next_token else None


def _decode_cursor(cursor: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(cursor.encode())
    except ValueError:
        raise Unprocessable(
            "cursor is malformed", errors=[{"loc": ["query", "cursor"], "msg": "malformed"}]
        ) from None


async def cancel(client: Client, tenant_slug: str, workflow_id: str) -> None:
    description = await describe(client, tenant_slug, workflow_id)
    if description.status != WorkflowExecutionStatus.RUNNING:
        raise Conflict(
            f"execution '{workflow_id}' is {status_name(description.status)}, not running"
        )
    await handle_for(client, tenant_slug, workflow_id).cancel()


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


async def started_input(client: Client, handle: WorkflowHandle[Any, Any]) -> GraphRunInput:
    """The input the current run of an execution started with (first event of its history)."""
    async for event in handle.fetch_history_events(page_size=1):
        payloads = event.workflow_execution_started_event_attributes.input.payloads
        [run] = await client.data_converter.decode(payloads, [GraphRunInput])
        return run  # type: ignore[no-any-return]
    raise NotFound(f"execution '{handle.id}' has no history")
