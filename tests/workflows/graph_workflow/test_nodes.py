"""Each node kind inside a real run."""

from datetime import datetime, timedelta

import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from auterity.graph import naming
from auterity.graph.compiler import compile_graph
from auterity.graph.errors import ErrorType
from tests.workflows.graph_workflow.support import (
    TENANT,
    FakeNodes,
    edge,
    graph,
    graph_worker,
    http,
    run_input,
    start,
    transform,
)


async def run_graph(
    client: Client, task_queue: str, document: dict, inputs: dict | None = None, **fields: object
) -> tuple[FakeNodes, object]:
    nodes = FakeNodes()
    async with graph_worker(client, task_queue, nodes):
        handle = await start(client, task_queue, run_input(document, inputs, **fields))
        return nodes, await handle.result()


async def failure_of(client: Client, task_queue: str, document: dict) -> ApplicationError:
    async with graph_worker(client, task_queue, FakeNodes()):
        handle = await start(client, task_queue, run_input(document))
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == ErrorType.NODE_FAILED
    return cause


async def test_retry_policy_retries_an_activity(temporal_client: Client, task_queue: str) -> None:
    document = graph(
        "retry",
        [http("call", "flaky", retry={"initial_interval": "100ms", "maximum_attempts": 5})],
        [],
    )
    nodes, result = await run_graph(temporal_client, task_queue, document)
    assert result.nodes["call"].status == "succeeded"
    assert result.nodes["call"].output["attempt"] == 3
    assert result.nodes["call"].attempts == 3
    assert nodes.attempts["call:"] == 3


async def test_retries_run_out(temporal_client: Client, task_queue: str) -> None:
    document = graph(
        "retry-out",
        [http("call", "flaky", retry={"initial_interval": "100ms", "maximum_attempts": 2})],
        [],
    )
    error = await failure_of(temporal_client, task_queue, document)
    assert error.details[0]["error"]["type"] == "HttpServerError"


async def test_timeout_fails_the_node(temporal_client: Client, task_queue: str) -> None:
    document = graph(
        "timeout", [http("call", "slow", timeout="1s", retry={"maximum_attempts": 1})], []
    )
    error = await failure_of(temporal_client, task_queue, document)
    assert error.message == "node 'call' failed: Timeout: timed out (start_to_close)"


async def test_local_activity(temporal_client: Client, task_queue: str) -> None:
    document = graph("local", [http("call", execution="local")], [])
    nodes, result = await run_graph(temporal_client, task_queue, document)
    assert result.nodes["call"].output["url"] == "https://svc.test/echo"


async def test_llm_node(temporal_client: Client, task_queue: str) -> None:
    document = graph(
        "ask",
        [{"id": "ask", "type": "llm", "config": {"prompt": "Hi {{ inputs.name }}"}}],
        [],
    )
    nodes, result = await run_graph(temporal_client, task_queue, document, {"name": "Ann"})
    assert result.output == {"ask": {"text": "Hi Ann"}}
    assert nodes.calls[0].config == compile_graph(document).nodes["ask"].config  # raw


async def test_expression_errors_fail_the_node_with_the_field(
    temporal_client: Client, task_queue: str
) -> None:
    document = graph("bad-expression", [transform("t", "{{ inputs.missing + 1 }}")], [])
    error = await failure_of(temporal_client, task_queue, document)
    assert error.details[0]["node"] == "t"
    assert error.details[0]["error"]["type"] == "ExpressionError"
    assert error.details[0]["error"]["message"].startswith("config.value: the object has no key")


async def test_a_template_over_its_work_budget_fails_its_node(
    temporal_client: Client, task_queue: str
) -> None:
    """Attack: 9 million loop iterations over a 3,000-character input ran to completion
    inside the workflow task."""
    loop = "{% for a in inputs.s %}{% for b in inputs.s %}{% endfor %}{% endfor %}done"
    document = graph("budget", [transform("t", loop)], [])
    async with graph_worker(temporal_client, task_queue, FakeNodes()):
        handle = await start(temporal_client, task_queue, run_input(document, {"s": "x" * 3000}))
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == ErrorType.NODE_FAILED
    assert cause.details[0]["node"] == "t"
    error = cause.details[0]["error"]
    assert error["type"] == "ExpressionError"
    assert error["message"].startswith("config.value: the template does too much work")
    assert "budget of 1,000,000 steps" in error["message"]


async def test_objects_in_text_read_as_json(temporal_client: Client, task_queue: str) -> None:
    document = graph(
        "json-text", [transform("t", "{{ inputs.body | string }} ~ {{ inputs.body ~ '' }}")], []
    )
    _, result = await run_graph(temporal_client, task_queue, document, {"body": {"status": "ok"}})
    assert result.output == {"t": '{"status": "ok"} ~ {"status": "ok"}'}


async def test_wait_for_a_duration_and_until(temporal_client: Client, task_queue: str) -> None:
    document = graph(
        "waits",
        [
            {"id": "pause", "type": "wait", "config": {"duration": "1s"}},
            {"id": "until", "type": "wait", "config": {"until": "{{ inputs.at }}"}},
        ],
        [edge("pause", "until")],
    )
    nodes, result = await run_graph(
        temporal_client, task_queue, document, {"at": "2020-01-01T00:00:00Z"}
    )
    paused = result.nodes["pause"]
    assert paused.finished_at - paused.started_at >= timedelta(seconds=1)
    assert datetime.fromisoformat(result.nodes["until"].output["until"]).year == 2020


async def test_expressions_over_blob_refs_run_in_an_activity(
    temporal_client: Client, task_queue: str
) -> None:
    document = graph(
        "blobs",
        [
            http("fetch", "blob"),
            transform("first", "{{ nodes.fetch.output.big[0] }}"),
            transform("count", "{{ nodes.fetch.output.big | length }}"),
            http("forward", config={"json": "{{ nodes.fetch.output }}"}),
        ],
        [edge("fetch", "first"), edge("fetch", "count"), edge("fetch", "forward")],
    )
    nodes, result = await run_graph(temporal_client, task_queue, document)
    assert (result.nodes["first"].output, result.nodes["count"].output) == (1, 3)
    assert nodes.blobs_read == []  # the stored value never comes into the workflow
    assert sorted(call.node_id for call in nodes.pure_calls) == ["count", "first"]
    assert all(
        call.scope["nodes"]["fetch"]["output"]["$blob"] == f"{TENANT}/abc"
        for call in nodes.pure_calls
    )
    forwarded = next(call for call in nodes.calls if call.node_id == "forward")
    assert forwarded.scope["nodes"]["fetch"]["output"]["$blob"] == f"{TENANT}/abc"


async def test_subgraph_runs_a_child(temporal_client: Client, task_queue: str) -> None:
    child = graph("child", [transform("greet", "hello {{ inputs.name }}")], [])
    child_plan = compile_graph(child)
    document = graph(
        "parent",
        [
            {
                "id": "sub",
                "type": "subgraph",
                "config": {
                    "graph_id": "child",
                    "version": child_plan.version_id,
                    "inputs": {"name": "{{ inputs.who }}"},
                },
            }
        ],
        [],
    )
    nodes = FakeNodes()
    async with graph_worker(temporal_client, task_queue, nodes):
        request = run_input(document, {"who": "Ann"}, subgraphs={child_plan.version_id: child_plan})
        handle = await start(temporal_client, task_queue, request)
        result = await handle.result()
        described = await temporal_client.get_workflow_handle(f"{handle.id}:sub").describe()
    assert result.output == {"sub": {"greet": "hello Ann"}}
    attributes = described.typed_search_attributes
    assert attributes.get(naming.TENANT) == TENANT
    assert attributes.get(naming.GRAPH) == "child"
    assert attributes.get(naming.GRAPH_VERSION) == child_plan.version_id


async def test_missing_subgraph_plan_fails_the_node(
    temporal_client: Client, task_queue: str
) -> None:
    document = graph(
        "orphan",
        [
            {
                "id": "sub",
                "type": "subgraph",
                "config": {"graph_id": "child", "version": "v_" + "1" * 24},
            }
        ],
        [],
    )
    error = await failure_of(temporal_client, task_queue, document)
    assert error.details[0]["error"]["type"] == "SubgraphUnavailable"


def foreach(items: str, body: dict, **config: object) -> dict:
    return {"id": "each", "type": "foreach", "config": {"items": items, "node": body, **config}}


async def test_foreach_keeps_input_order(temporal_client: Client, task_queue: str) -> None:
    body = {"type": "http", "config": {"url": "https://svc.test/echo", "json": "{{ item * 10 }}"}}
    document = graph("map", [foreach("inputs.rows", body, concurrency=2)], [])
    nodes, result = await run_graph(temporal_client, task_queue, document, {"rows": [1, 2, 3, 4]})
    assert [output["json"] for output in result.output["each"]] == [10, 20, 30, 40]
    assert sorted(call.scope["index"] for call in nodes.calls) == [0, 1, 2, 3]


async def test_foreach_transform_body(temporal_client: Client, task_queue: str) -> None:
    body = {"type": "transform", "config": {"value": "{{ index }}:{{ item.name }}"}}
    document = graph("map-pure", [foreach("inputs.rows", body)], [])
    rows = [{"name": "a"}, {"name": "b"}]
    nodes, result = await run_graph(temporal_client, task_queue, document, {"rows": rows})
    assert result.output == {"each": ["0:a", "1:b"]}


async def test_foreach_item_failure_fails_the_node(
    temporal_client: Client, task_queue: str
) -> None:
    body = {"type": "http", "config": {"url": "https://svc.test/{{ item }}"}}
    document = graph("map-fail", [foreach("['echo', 'fail', 'echo']", body)], [])
    error = await failure_of(temporal_client, task_queue, document)
    assert error.details[0]["error"]["message"] == "item 1: answered 404"


async def test_foreach_items_must_be_a_list(temporal_client: Client, task_queue: str) -> None:
    body = {"type": "transform", "config": {"value": 1}}
    error = await failure_of(
        temporal_client, task_queue, graph("map-bad", [foreach("5", body)], [])
    )
    assert error.details[0]["error"]["message"] == "config.items: gave int, not a list"


async def test_foreach_over_1000_items_in_batches(temporal_client: Client, task_queue: str) -> None:
    body = {"type": "http", "config": {"url": "https://svc.test/echo", "json": "{{ item }}"}}
    document = graph(
        "map-large", [foreach("range(inputs.n) | list", body, concurrency=100, batch_size=200)], []
    )
    nodes = FakeNodes()
    async with graph_worker(temporal_client, task_queue, nodes):
        handle = await start(temporal_client, task_queue, run_input(document, {"n": 1000}))
        result = await handle.result()
        history = await handle.fetch_history()
    assert [output["json"] for output in result.output["each"]] == list(range(1000))
    assert len(nodes.calls) == 1000
    assert {call.execution_id for call in nodes.calls} == {handle.id}
    children = [
        e
        for e in history.events
        if e.HasField("start_child_workflow_execution_initiated_event_attributes")
    ]
    assert len(children) == 5
    assert not any(e.HasField("activity_task_scheduled_event_attributes") for e in history.events)
