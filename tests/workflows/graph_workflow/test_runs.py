"""Run-level behaviour: live state, retry from the failed node, continue-as-new."""

import pytest
from temporalio.client import Client, WorkflowFailureError

from tests.workflows.graph_workflow.support import (
    FakeNodes,
    edge,
    graph,
    graph_worker,
    http,
    run_input,
    start,
    state_when,
)
from workflows.graph_workflow import GraphWorkflow


def chain(length: int, path: str = "echo") -> dict:
    nodes = [http("n0", path)]
    for index in range(1, length):
        nodes.append(
            http(f"n{index}", config={"json": f"{{{{ nodes.n{index - 1}.output.attempt }}}}"})
        )
    edges = [edge(f"n{index - 1}", f"n{index}") for index in range(1, length)]
    return graph(f"chain-{length}", nodes, edges)


async def test_state_query_shows_live_nodes(temporal_client: Client, task_queue: str) -> None:
    document = graph("live", [http("first"), http("hang", "slow")], [edge("first", "hang")])
    async with graph_worker(temporal_client, task_queue, FakeNodes()):
        handle = await start(temporal_client, task_queue, run_input(document))
        state = await state_when(handle, lambda s: s.nodes["hang"].status == "running")
        assert state.status == "running"
        first = state.nodes["first"]
        assert first.status == "succeeded"
        assert first.output["url"] == "https://svc.test/echo"
        assert first.started_at is not None and first.finished_at >= first.started_at
        assert state.nodes["hang"].started_at is not None
        await handle.cancel()
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        assert (await handle.query(GraphWorkflow.state)).status == "cancelled"


async def test_retry_from_the_failed_node_reuses_what_succeeded(
    temporal_client: Client, task_queue: str
) -> None:
    nodes = FakeNodes()
    send = http("send", config={"json": "{{ nodes.fetch.output.url }}"})
    send["config"]["url"] = "https://svc.test/{{ inputs.target }}"
    document = graph("retry-from", [http("fetch"), send], [edge("fetch", "send")])
    async with graph_worker(temporal_client, task_queue, nodes):
        failed = await start(temporal_client, task_queue, run_input(document, {"target": "fail"}))
        with pytest.raises(WorkflowFailureError):
            await failed.result()
        earlier = await failed.query(GraphWorkflow.state)
        assert earlier.failed_node == "send"
        nodes.calls.clear()
        retry = run_input(
            document,
            {"target": "echo"},
            reuse_outputs={
                node_id: state
                for node_id, state in earlier.nodes.items()
                if state.status == "succeeded"
            },
        )
        result = await (await start(temporal_client, task_queue, retry)).result()
    assert nodes.nodes_called() == ["send"]
    assert result.nodes["fetch"].reused is True
    assert result.nodes["send"].output["json"] == "https://svc.test/echo"


async def test_continue_as_new_carries_the_frontier(
    temporal_client: Client, task_queue: str
) -> None:
    nodes = FakeNodes()
    document = chain(8)
    async with graph_worker(temporal_client, task_queue, nodes):
        handle = await start(
            temporal_client, task_queue, run_input(document, max_history_events=12)
        )
        result = await handle.result()
        state = await handle.query(GraphWorkflow.state)
        history = await handle.fetch_history()
    assert state.continued >= 3
    assert nodes.nodes_called() == [f"n{index}" for index in range(8)]  # each ran once
    assert all(node.status == "succeeded" for node in result.nodes.values())
    assert result.output == {"n7": result.nodes["n7"].output}
    assert result.nodes["n6"].output is not None  # read by n7, the last to run
    released = [node_id for node_id, node in result.nodes.items() if node.released]
    assert released and "n7" not in released
    assert len(history.events) <= 24
