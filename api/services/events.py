"""Live execution events, derived from the run's `state` query as its history grows.

Each new workflow task in Temporal's history (long-polled, no extra broker) is a
moment the run's node states may have changed; the difference between two
`state` answers is the list of events. A finished run replays the same events
from its final state.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError

from auterity.graph.run import QUERY_STATE, NodeState, RunState

WAKE_ON = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
}
CLOSING = WAKE_ON - {EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED}
FINAL_STATUS = {
    WorkflowExecutionStatus.COMPLETED: "succeeded",
    WorkflowExecutionStatus.FAILED: "failed",
    WorkflowExecutionStatus.CANCELED: "cancelled",
    WorkflowExecutionStatus.TERMINATED: "terminated",
    WorkflowExecutionStatus.TIMED_OUT: "timed_out",
}
NODE_EVENT = {
    "succeeded": "node.completed",
    "failed": "node.failed",
    "skipped": "node.skipped",
    "cancelled": "node.cancelled",
}


def node_event(kind: str, node_id: str, node: NodeState) -> dict[str, Any]:
    at = node.finished_at if kind != "node.started" and node.finished_at else node.started_at
    event: dict[str, Any] = {"type": kind, "node": node_id, "status": node.status}
    event["at"] = at.isoformat() if at else None
    if kind == "node.completed":
        event["output"] = node.output
        event["label"] = node.label
    if kind == "node.failed" and node.error is not None:
        event["error"] = node.error.model_dump(mode="json")
    if node.attempts is not None:
        event["attempts"] = node.attempts
    return event


def diff(before: RunState | None, after: RunState) -> list[dict[str, Any]]:
    """Events that turn `before` into `after`, in the order they happened.

    Ties in time (pure nodes start and finish at the same workflow time, and a node
    starts when its input finishes) are broken by the node's place in the plan's
    topological order, then start before finish.
    """
    events: list[tuple[str, int, int, dict[str, Any]]] = []
    waiting_before = {task.node_id for task in before.tasks} if before else set()
    order = {node_id: index for index, node_id in enumerate(after.nodes)}
    for node_id, node in after.nodes.items():
        was = before.nodes.get(node_id, NodeState()).status if before else "pending"
        if node.status == was:
            continue
        if was == "pending" and node.status != "skipped":
            event = node_event("node.started", node_id, node)
            events.append((event["at"] or "", order[node_id], 0, event))
        if node.status in NODE_EVENT:
            event = node_event(NODE_EVENT[node.status], node_id, node)
            events.append((event["at"] or "", order[node_id], 2, event))
    for task in after.tasks:
        if task.node_id not in waiting_before:
            waiting: dict[str, Any] = {"type": "node.waiting", "node": task.node_id}
            waiting |= {"status": "running", "task_id": task.task_id, "assignees": task.assignees}
            waiting["due_at"] = task.due_at.isoformat() if task.due_at else None
            started = after.nodes[task.node_id].started_at if task.node_id in after.nodes else None
            at = started.isoformat() if started else ""
            events.append((at, order.get(task.node_id, len(order)), 1, waiting))
    events.sort(key=lambda entry: entry[:3])
    return [event for *_key, event in events]


async def query_state(handle: WorkflowHandle[Any, Any]) -> RunState | None:
    try:
        return await handle.query(  # type: ignore[no-any-return]
            QUERY_STATE, result_type=RunState, rpc_timeout=timedelta(seconds=10)
        )
    except (RPCError, Exception):  # noqa: BLE001 - a run without state yet (or no worker)
        return None


async def stream(client: Client, workflow_id: str) -> AsyncIterator[dict[str, Any]]:
    """Every event of the run so far, then each new one as it happens, then `run.finished`."""
    handle = client.get_workflow_handle(workflow_id)
    description = await handle.describe()
    previous: RunState | None = None
    if description.status == WorkflowExecutionStatus.RUNNING:
        async for event in handle.fetch_history_events(wait_new_event=True):
            if event.event_type not in WAKE_ON:
                continue
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
                handle = client.get_workflow_handle(workflow_id)
                async for item in _continue(client, workflow_id, previous):
                    yield item
                return
            if event.event_type in CLOSING:
                break
            current = await query_state(handle)
            if current is not None:
                for item in diff(previous, current):
                    yield item
                previous = current
        description = await handle.describe()
    final = await query_state(handle)
    if final is not None:
        for item in diff(previous, final):
            yield item
    finished: dict[str, Any] = {"type": "run.finished"}
    finished["status"] = FINAL_STATUS.get(description.status, "running")  # type: ignore[arg-type]
    finished["at"] = description.close_time.isoformat() if description.close_time else None
    if final is not None and final.failed_node:
        finished["failed_node"] = final.failed_node
    yield finished


async def _continue(
    client: Client, workflow_id: str, previous: RunState | None
) -> AsyncIterator[dict[str, Any]]:
    """Follow the next run of a continued-as-new execution, without repeating events."""
    seen = previous
    async for item in stream(client, workflow_id):
        if item["type"].startswith("node.") and seen is not None:
            node = seen.nodes.get(item["node"])
            if node is not None and node.status == item["status"]:
                continue
        yield item


async def until_refused(allowed: Callable[[], Awaitable[bool]], every: float) -> None:
    """Return once `allowed()` answers False, asking every `every` seconds: what ends a live
    stream whose credential expired or was revoked."""
    while True:
        await asyncio.sleep(every)
        if not await allowed():
            return
