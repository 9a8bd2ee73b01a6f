from temporalio.client import Client

from tests.workflows.graph_workflow.support import (
    FakeNodes,
    edge,
    graph,
    graph_worker,
    http,
    run_input,
    start,
    transform,
)


async def test_a_chain_runs(temporal_client: Client, task_queue: str) -> None:
    nodes = FakeNodes()
    document = graph(
        "chain",
        [
            transform("double", "{{ inputs.n * 2 }}"),
            http("send", config={"json": {"value": "{{ nodes.double.output }}"}}),
            transform("done", "sent {{ nodes.send.output.json.value }}"),
        ],
        [edge("double", "send"), edge("send", "done")],
    )
    async with graph_worker(temporal_client, task_queue, nodes):
        handle = await start(temporal_client, task_queue, run_input(document, {"n": 21}))
        result = await handle.result()
    assert result.nodes["double"].output == 42
    assert result.nodes["send"].output["json"] == {"value": 42}
    assert result.output == {"done": "sent 42"}
    assert nodes.calls[0].scope["nodes"] == {
        "double": {"output": 42, "status": "succeeded", "error": None}
    }
