"""A run started with registry references unpinned (a schedule's) pins them itself before
any node runs: one `registry.pin` call for every reference, the plan's and its subgraphs';
the llm activities see the versions, the memo records them; a reference that names nothing
fails the run before any node runs."""

import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from auterity.graph.compiler import compile_graph
from auterity.graph.references import PINNED_MEMO, PINNED_REFERENCES_MEMO
from tests.workflows.graph_workflow.scenarios import registry_graph
from tests.workflows.graph_workflow.support import FakeNodes, graph_worker, run_input, start


async def test_unpinned_references_are_pinned_once_before_any_node_runs(
    temporal_client: Client, task_queue: str
) -> None:
    nodes = FakeNodes()
    sub = compile_graph(registry_graph("other@staging"))
    request = run_input(registry_graph(), {"name": "Ada"}, subgraphs={"v_sub": sub})
    async with graph_worker(temporal_client, task_queue, nodes):
        handle = await start(temporal_client, task_queue, request)
        await handle.result()
    [pinned] = nodes.pinned
    assert pinned.tenant == request.tenant
    assert [r.key() for r in pinned.references] == [
        "prompt:greet@production", "model:clf@production", "prompt:other@staging",
    ]  # fmt: skip
    llm = {call.node_id: call.config for call in nodes.calls}
    assert llm["ask"]["prompt_version"] == 3 and llm["all"]["model_version"] == 3
    memo = await (await handle.describe()).memo()
    assert memo[PINNED_MEMO] == {"ask": {"prompt": "greet@3"}, "all": {"model": "clf@3"}}
    assert memo[PINNED_REFERENCES_MEMO]["prompt:other@staging"] == 3


async def test_a_run_already_pinned_asks_nothing(temporal_client: Client, task_queue: str) -> None:
    nodes = FakeNodes()
    request = run_input(registry_graph(), {"name": "Ada"})
    plan = request.plan
    ask = plan.nodes["ask"].model_copy(
        update={"config": {**plan.nodes["ask"].config, "prompt_version": 1}}
    )
    body = plan.nodes["all"].config["node"]
    every = plan.nodes["all"].model_copy(
        update={"config": {**plan.nodes["all"].config,
                           "node": {**body, "config": {**body["config"], "model_version": 2}}}}
    )  # fmt: skip
    pinned = request.model_copy(
        update={"plan": plan.model_copy(update={"nodes": {"ask": ask, "all": every}})}
    )
    async with graph_worker(temporal_client, task_queue, nodes):
        handle = await start(temporal_client, task_queue, pinned)
        await handle.result()
    assert nodes.pinned == []
    assert {call.node_id: call.config.get("prompt_version") for call in nodes.calls}["ask"] == 1


async def test_a_reference_naming_nothing_fails_the_run_before_any_node(
    temporal_client: Client, task_queue: str
) -> None:
    nodes = FakeNodes()
    request = run_input(registry_graph("gone@production"), {"name": "Ada"})
    async with graph_worker(temporal_client, task_queue, nodes):
        handle = await start(temporal_client, task_queue, request)
        with pytest.raises(WorkflowFailureError) as failed:
            await handle.result()
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "NodeConfigInvalid"
    assert "unknown gone@production" in cause.message
    assert nodes.calls == []
