"""Ready nodes start together, skipped branches propagate, joins, failures."""

import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from auterity.graph.errors import ErrorType
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


async def test_diamond_starts_branches_together_and_joins_all(
    temporal_client: Client, task_queue: str
) -> None:
    nodes = FakeNodes()
    document = graph(
        "diamond",
        [
            transform("split", "{{ inputs.n }}"),
            http("left", config={"json": "{{ nodes.split.output + 1 }}"}),
            http("right", config={"json": "{{ nodes.split.output + 2 }}"}),
            transform("join", "{{ nodes.left.output.json + nodes.right.output.json }}"),
        ],
        [
            edge("split", "left"),
            edge("split", "right"),
            edge("left", "join"),
            edge("right", "join"),
        ],
    )
    async with graph_worker(temporal_client, task_queue, nodes):
        handle = await start(temporal_client, task_queue, run_input(document, {"n": 10}))
        result = await handle.result()
        history = await handle.fetch_history()
    assert result.nodes["join"].output == 23
    assert result.output == {"join": 23}
    scheduled = [
        index
        for index, event in enumerate(history.events)
        if event.HasField("activity_task_scheduled_event_attributes")
    ]
    assert len(scheduled) == 2
    assert scheduled[1] == scheduled[0] + 1  # both scheduled by the same workflow task
    named = [
        history.events[index].activity_task_scheduled_event_attributes.activity_id
        for index in scheduled
    ]
    assert named == ["left", "right"]  # each activity is named by its node


async def test_skipped_branch_propagates(temporal_client: Client, task_queue: str) -> None:
    nodes = FakeNodes()
    document = graph(
        "branches",
        [
            {"id": "check", "type": "condition", "config": {"expression": "inputs.urgent"}},
            http("page", "page"),
            transform("after_page", "paged"),
            http("queue", "queue"),
            transform("both", "{{ nodes.queue.status }}"),
        ],
        [
            edge("check", "page", "true"),
            edge("page", "after_page"),
            edge("check", "queue", "false"),
            edge("after_page", "both"),
            edge("queue", "both"),
        ],
    )
    async with graph_worker(temporal_client, task_queue, nodes):
        result = await (
            await start(temporal_client, task_queue, run_input(document, {"urgent": False}))
        ).result()
    statuses = {node_id: state.status for node_id, state in result.nodes.items()}
    assert statuses == {
        "check": "succeeded",
        "page": "skipped",
        "after_page": "skipped",
        "queue": "succeeded",
        "both": "succeeded",
    }
    assert result.nodes["check"].label == "false"
    assert nodes.nodes_called() == ["queue"]


async def test_every_input_skipped_skips_the_join(temporal_client: Client, task_queue: str) -> None:
    document = graph(
        "all-skipped",
        [
            {"id": "check", "type": "condition", "config": {"expression": "false"}},
            transform("a", 1),
            transform("b", 2),
            transform("join", 3),
            transform("other", 4),
        ],
        [
            edge("check", "a", "true"),
            edge("check", "b", "true"),
            edge("a", "join"),
            edge("b", "join"),
            edge("check", "other", "false"),
        ],
    )
    async with graph_worker(temporal_client, task_queue, FakeNodes()):
        result = await (await start(temporal_client, task_queue, run_input(document))).result()
    assert [result.nodes[n].status for n in ("a", "b", "join", "other")] == [
        "skipped",
        "skipped",
        "skipped",
        "succeeded",
    ]
    assert result.output == {"other": 4}


async def test_switch_routes_by_case(temporal_client: Client, task_queue: str) -> None:
    document = graph(
        "switch",
        [
            {
                "id": "route",
                "type": "switch",
                "config": {"expression": "inputs.kind", "cases": ["bug", "question"]},
            },
            transform("bug", "b"),
            transform("question", "q"),
            transform("other", "o"),
        ],
        [
            edge("route", "bug", "bug"),
            edge("route", "question", "question"),
            edge("route", "other", "default"),
        ],
    )
    async with graph_worker(temporal_client, task_queue, FakeNodes()):
        for kind, expected in (("bug", {"bug": "b"}), ("praise", {"other": "o"})):
            request = run_input(document, {"kind": kind})
            result = await (await start(temporal_client, task_queue, request)).result()
            assert result.output == expected


async def test_merge_any_runs_on_the_first_branch(temporal_client: Client, task_queue: str) -> None:
    nodes = FakeNodes()
    document = graph(
        "race",
        [
            transform("go", 1),
            transform("fast", "fast"),
            http("slow", "slow"),
            {"id": "first", "type": "merge", "config": {"mode": "any"}},
            http("after", config={"json": "{{ nodes.first.output }}"}),
        ],
        [
            edge("go", "fast"),
            edge("go", "slow"),
            edge("fast", "first"),
            edge("slow", "first"),
            edge("first", "after"),
        ],
    )
    async with graph_worker(temporal_client, task_queue, nodes):
        handle = await start(temporal_client, task_queue, run_input(document))
        state = await state_when(handle, lambda s: s.nodes["after"].status == "succeeded")
        assert state.nodes["first"].output == {"fast": "fast"}
        assert state.nodes["slow"].status == "running"
        await handle.cancel()


async def test_merge_all_collects_every_branch(temporal_client: Client, task_queue: str) -> None:
    document = graph(
        "gather",
        [
            transform("a", 1),
            transform("b", 2),
            {"id": "all", "type": "merge", "config": {}},
        ],
        [edge("a", "all"), edge("b", "all")],
    )
    async with graph_worker(temporal_client, task_queue, FakeNodes()):
        result = await (await start(temporal_client, task_queue, run_input(document))).result()
    assert result.output == {"all": {"a": 1, "b": 2}}


async def test_a_failing_branch_cancels_its_sibling(
    temporal_client: Client, task_queue: str
) -> None:
    nodes = FakeNodes()
    document = graph(
        "fail-fast",
        [
            transform("go", 1),
            http("broken", "fail"),
            http("slow", "slow", timeout="1m"),
            transform("never", "x"),
        ],
        [edge("go", "broken"), edge("go", "slow"), edge("broken", "never")],
    )
    async with graph_worker(temporal_client, task_queue, nodes):
        handle = await start(temporal_client, task_queue, run_input(document))
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
        state = await handle.query(GraphWorkflow.state)
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == ErrorType.NODE_FAILED
    assert cause.message == "node 'broken' failed: HttpClientError: answered 404"
    assert cause.details[0]["node"] == "broken"
    assert state.status == "failed"
    assert state.failed_node == "broken"
    assert {n: s.status for n, s in state.nodes.items()} == {
        "go": "succeeded",
        "broken": "failed",
        "slow": "cancelled",
        "never": "pending",
    }


async def test_on_error_continue_and_error_edges(temporal_client: Client, task_queue: str) -> None:
    nodes = FakeNodes()
    document = graph(
        "errors",
        [
            http("soft", "fail", on_error="continue"),
            transform("after_soft", "{{ nodes.soft.status }}: {{ nodes.soft.output.message }}"),
            http("routed", "fail", on_error="error"),
            transform("on_success", "ok"),
            transform("on_error", "{{ nodes.routed.error.type }}"),
        ],
        [
            edge("soft", "after_soft"),
            edge("routed", "on_success"),
            edge("routed", "on_error", "error"),
        ],
    )
    async with graph_worker(temporal_client, task_queue, nodes):
        result = await (await start(temporal_client, task_queue, run_input(document))).result()
    assert result.nodes["soft"].status == "failed"
    assert result.nodes["after_soft"].output == "failed: answered 404"
    assert result.nodes["routed"].label == "error"
    assert result.nodes["on_success"].status == "skipped"
    assert result.nodes["on_error"].output == "HttpClientError"
