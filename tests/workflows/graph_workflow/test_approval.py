"""Approval nodes: a human task, decided by the complete_task Update or timing out."""

from typing import Any

import pytest
from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.testing import WorkflowEnvironment

from auterity.graph.run import RunState, TaskDecision
from tests.workflows.graph_workflow.support import (
    FakeNodes,
    edge,
    graph,
    graph_worker,
    http,
    run_input,
    start,
    state_when,
    transform,
)
from workflows.graph_workflow import GraphWorkflow


def approval_graph(**config: Any) -> dict[str, Any]:
    return graph(
        "approve",
        [
            {
                "id": "approve",
                "type": "approval",
                "config": {
                    "assignees": ["role:manager", "user:{{ inputs.owner }}"],
                    "title": "Refund {{ inputs.amount }}?",
                    **config,
                },
            },
            transform("paid", "paid"),
            transform("refused", "refused"),
        ],
        [edge("approve", "paid", "approved"), edge("approve", "refused", "rejected")],
    )


async def pending_task(handle: WorkflowHandle[Any, Any]) -> RunState:
    return await state_when(handle, lambda state: bool(state.tasks))


async def test_approval_completed_by_update(temporal_client: Client, task_queue: str) -> None:
    nodes = FakeNodes()
    async with graph_worker(temporal_client, task_queue, nodes):
        request = run_input(approval_graph(), {"owner": "ann@example.com", "amount": 30})
        handle = await start(temporal_client, task_queue, request)
        state = await pending_task(handle)
        task = state.tasks[0]
        assert state.nodes["approve"].status == "running"
        assert task.node_id == "approve"
        assert task.assignees == ["role:manager", "user:ann@example.com"]
        assert nodes.opened[0].title == "Refund 30?"
        assert nodes.opened[0].execution_id == handle.id

        with pytest.raises(WorkflowUpdateFailedError) as unknown:
            await handle.execute_update(
                GraphWorkflow.complete_task, TaskDecision(task_id="nope", decision="approved")
            )
        assert "unknown task nope" in str(unknown.value.cause)
        with pytest.raises(WorkflowUpdateFailedError) as bad:
            await handle.execute_update(
                GraphWorkflow.complete_task, TaskDecision(task_id=task.task_id, decision="maybe")
            )
        assert "'maybe' is not one of approved, rejected" in str(bad.value.cause)

        completion = await handle.execute_update(
            GraphWorkflow.complete_task,
            TaskDecision(
                task_id=task.task_id,
                decision="approved",
                comment="fine",
                data={"limit": 50},
                actor="user:boss@example.com",
            ),
        )
        assert (completion.node_id, completion.decision) == ("approve", "approved")
        result = await handle.result()
    assert result.output == {"paid": "paid"}
    assert result.nodes["refused"].status == "skipped"
    assert result.nodes["approve"].output == {
        "task_id": task.task_id,
        "decision": "approved",
        "comment": "fine",
        "data": {"limit": 50},
        "actor": "user:boss@example.com",
    }
    closed = nodes.closed[0]
    assert (closed.task_id, closed.status, closed.decision) == (
        task.task_id,
        "completed",
        "approved",
    )


async def test_objects_in_a_task_read_as_json(temporal_client: Client, task_queue: str) -> None:
    nodes = FakeNodes()
    async with graph_worker(temporal_client, task_queue, nodes):
        document = approval_graph(description="{{ inputs.order }}")
        inputs = {"owner": "ann@example.com", "amount": 30, "order": {"id": 7, "paid": False}}
        handle = await start(temporal_client, task_queue, run_input(document, inputs))
        await pending_task(handle)
        await handle.cancel()
    assert nodes.opened[0].description == '{"id": 7, "paid": false}'


async def test_cancelling_the_run_cancels_the_task(
    temporal_client: Client, task_queue: str
) -> None:
    nodes = FakeNodes()
    async with graph_worker(temporal_client, task_queue, nodes):
        handle = await start(
            temporal_client, task_queue, run_input(approval_graph(), {"owner": "a", "amount": 5})
        )
        task = (await pending_task(handle)).tasks[0]
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
    assert isinstance(caught.value.cause, CancelledError)
    assert [(c.task_id, c.status) for c in nodes.closed] == [(task.task_id, "cancelled")]


@pytest.fixture
def skipping_client(time_skipping_env: WorkflowEnvironment) -> Client:
    return time_skipping_env.client


async def test_approval_times_out_to_its_outcome(skipping_client: Client, task_queue: str) -> None:
    nodes = FakeNodes()
    document = approval_graph(timeout="3d", on_timeout="reject")
    async with graph_worker(skipping_client, task_queue, nodes):
        request = run_input(document, {"owner": "a", "amount": 5})
        handle = await start(skipping_client, task_queue, request, attributes=False)
        result = await handle.result()
    assert result.output == {"refused": "refused"}
    assert result.nodes["approve"].output["timed_out"] is True
    assert result.nodes["approve"].label == "rejected"
    assert nodes.opened[0].due_at is not None
    assert [(c.status, c.decision) for c in nodes.closed] == [("timed_out", "rejected")]


async def test_approval_timeout_can_fail_the_node(skipping_client: Client, task_queue: str) -> None:
    nodes = FakeNodes()
    async with graph_worker(skipping_client, task_queue, nodes):
        request = run_input(approval_graph(timeout="1h"), {"owner": "a", "amount": 5})
        handle = await start(skipping_client, task_queue, request, attributes=False)
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.message == "node 'approve' failed: ApprovalTimedOut: no decision within 1h"


async def test_a_task_that_cannot_open_fails_the_node(
    temporal_client: Client, task_queue: str
) -> None:
    nodes = FakeNodes(reject_tasks=True)
    async with graph_worker(temporal_client, task_queue, nodes):
        handle = await start(
            temporal_client, task_queue, run_input(approval_graph(), {"owner": "a", "amount": 1})
        )
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.details[0] == {
        "node": "approve",
        "error": {"type": "TenantNotFound", "message": "no such tenant", "details": None},
    }


async def test_a_decided_task_rejects_another_decision(
    temporal_client: Client, task_queue: str
) -> None:
    document = approval_graph()
    document["nodes"].append({"id": "hold", "type": "wait", "config": {"duration": "1h"}})
    document["edges"].append(edge("paid", "hold"))
    async with graph_worker(temporal_client, task_queue, FakeNodes()):
        request = run_input(document, {"owner": "a", "amount": 1})
        handle = await start(temporal_client, task_queue, request)
        task = (await pending_task(handle)).tasks[0]
        await handle.execute_update(
            GraphWorkflow.complete_task, TaskDecision(task_id=task.task_id, decision="approved")
        )
        with pytest.raises(WorkflowUpdateFailedError) as again:
            await handle.execute_update(
                GraphWorkflow.complete_task,
                TaskDecision(task_id=task.task_id, decision="rejected"),
            )
        assert "already finished" in str(again.value.cause)
        await handle.cancel()


async def test_an_approval_over_a_stored_value_renders_it_outside_the_workflow(
    temporal_client: Client, task_queue: str
) -> None:
    nodes = FakeNodes()
    document = graph(
        "approve-blob",
        [
            http("fetch", "blob"),
            {
                "id": "approve",
                "type": "approval",
                "config": {
                    "title": "Ship {{ nodes.fetch.output.big | length }} rows?",
                    "assignees": ["role:manager"],
                },
            },
        ],
        [edge("fetch", "approve")],
    )
    async with graph_worker(temporal_client, task_queue, nodes):
        handle = await start(temporal_client, task_queue, run_input(document))
        await pending_task(handle)
        await handle.cancel()
    assert nodes.opened[0].title == "Ship 3 rows?"
    assert nodes.blobs_read == []  # the stored value never came into the workflow
    (render,) = nodes.pure_calls
    assert (render.node_id, render.kind) == ("approve", "render")
