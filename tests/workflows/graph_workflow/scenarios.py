"""Representative runs whose histories are saved for the replay tests.

`python -m tests.workflows.graph_workflow.record_histories` runs each scenario on a fresh dev server
and saves its histories under `tests/workflows/graph_workflow/histories/`; `test_replay.py`
replays them, so a change to `GraphWorkflow` that would break running executions
fails the suite. Re-record only for a deliberate, versioned change.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.worker import Worker

from auterity.graph.compiler import compile_graph
from auterity.graph.run import GraphRunInput, TaskDecision
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

Scenario = Callable[[Client, str], Awaitable[list[WorkflowHandle[Any, Any]]]]
"""Runs to completion and returns the handles (runs) whose histories to keep."""


async def _finish(
    client: Client, task_queue: str, request: GraphRunInput
) -> WorkflowHandle[Any, Any]:
    handle = await start(client, task_queue, request)
    with contextlib.suppress(WorkflowFailureError):
        await handle.result()
    return handle


async def diamond(client: Client, task_queue: str) -> list[WorkflowHandle[Any, Any]]:
    document = graph(
        "diamond",
        [
            transform("split", "{{ inputs.n }}"),
            http("left", config={"json": "{{ nodes.split.output + 1 }}"}),
            http("right", config={"json": "{{ nodes.split.output + 2 }}"}, execution="local"),
            {"id": "join", "type": "merge", "config": {"mode": "all"}},
            transform("total", "{{ nodes.left.output.json + nodes.right.output.json }}"),
        ],
        [
            edge("split", "left"),
            edge("split", "right"),
            edge("left", "join"),
            edge("right", "join"),
            edge("join", "total"),
        ],
    )
    return [await _finish(client, task_queue, run_input(document, {"n": 1}))]


async def branches(client: Client, task_queue: str) -> list[WorkflowHandle[Any, Any]]:
    document = graph(
        "branches",
        [
            {"id": "check", "type": "condition", "config": {"expression": "inputs.n > 5"}},
            {
                "id": "route",
                "type": "switch",
                "config": {"expression": "inputs.kind", "cases": ["a", "b"]},
            },
            http("big", "blob"),
            transform("small", "{{ inputs.n }}"),
            transform("read_blob", "{{ nodes.big.output.big | length }}"),
            http("soft", "fail", on_error="continue"),
            http("routed", "fail", on_error="error"),
            transform("on_error", "{{ nodes.routed.error.type }}"),
            {"id": "pause", "type": "wait", "config": {"duration": "1s"}},
        ],
        [
            edge("check", "big", "true"),
            edge("check", "small", "false"),
            edge("big", "read_blob"),
            edge("route", "soft", "a"),
            edge("route", "routed", "default"),
            edge("routed", "on_error", "error"),
            edge("on_error", "pause"),
        ],
    )
    return [await _finish(client, task_queue, run_input(document, {"n": 9, "kind": "z"}))]


async def failure(client: Client, task_queue: str) -> list[WorkflowHandle[Any, Any]]:
    document = graph(
        "failure",
        [transform("go", 1), http("broken", "fail"), http("slow", "slow", timeout="1m")],
        [edge("go", "broken"), edge("go", "slow")],
    )
    return [await _finish(client, task_queue, run_input(document))]


async def approval(client: Client, task_queue: str) -> list[WorkflowHandle[Any, Any]]:
    document = graph(
        "approval",
        [
            {
                "id": "approve",
                "type": "approval",
                "config": {"assignees": ["role:manager"], "title": "Pay {{ inputs.amount }}?"},
            },
            transform("paid", "paid"),
        ],
        [edge("approve", "paid", "approved")],
    )
    handle = await start(client, task_queue, run_input(document, {"amount": 10}))
    state = await state_when(handle, lambda state: bool(state.tasks))
    await handle.execute_update(
        GraphWorkflow.complete_task,
        TaskDecision(task_id=state.tasks[0].task_id, decision="approved", actor="user:a@b.c"),
    )
    await handle.result()
    return [handle]


async def foreach(client: Client, task_queue: str) -> list[WorkflowHandle[Any, Any]]:
    body = {"type": "http", "config": {"url": "https://svc.test/echo", "json": "{{ item }}"}}
    document = graph(
        "foreach",
        [
            {
                "id": "small",
                "type": "foreach",
                "config": {"items": "[1, 2, 3]", "node": body, "concurrency": 2},
            },
            {
                "id": "large",
                "type": "foreach",
                "config": {"items": "range(5) | list", "node": body, "batch_size": 2},
            },
        ],
        [edge("small", "large")],
    )
    handle = await _finish(client, task_queue, run_input(document))
    return [handle, client.get_workflow_handle(f"{handle.id}:large:batch-0")]


async def subgraph(client: Client, task_queue: str) -> list[WorkflowHandle[Any, Any]]:
    child = compile_graph(graph("child", [transform("greet", "hi {{ inputs.name }}")], []))
    document = graph(
        "parent",
        [
            {
                "id": "sub",
                "type": "subgraph",
                "config": {
                    "graph_id": "child",
                    "version": child.version_id,
                    "inputs": {"name": "{{ inputs.who }}"},
                },
            }
        ],
        [],
    )
    request = run_input(document, {"who": "Ann"}, subgraphs={child.version_id: child})
    handle = await _finish(client, task_queue, request)
    return [handle, client.get_workflow_handle(f"{handle.id}:sub")]


async def continue_as_new(client: Client, task_queue: str) -> list[WorkflowHandle[Any, Any]]:
    nodes = [http("n0")] + [
        http(f"n{i}", config={"json": f"{{{{ nodes.n{i - 1}.output.attempt }}}}"})
        for i in range(1, 5)
    ]
    edges = [edge(f"n{i - 1}", f"n{i}") for i in range(1, 5)]
    request = run_input(graph("long", nodes, edges), max_history_events=12)
    handle = await _finish(client, task_queue, request)
    first = client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)
    return [first, client.get_workflow_handle(handle.id)]


async def text_of_objects(client: Client, task_queue: str) -> list[WorkflowHandle[Any, Any]]:
    """A branch decided by how an object reads as text: Python's repr in runs started before
    the template budget (this history was recorded then), JSON after."""
    document = graph(
        "text",
        [
            {
                "id": "check",
                "type": "condition",
                "config": {"expression": "(inputs.obj | string) == \"{'a': 1}\""},
            },
            http("repr", config={"json": "{{ inputs.obj | string }}"}),
            transform("other", "{{ inputs.obj ~ '' }}"),
        ],
        [edge("check", "repr", "true"), edge("check", "other", "false")],
    )
    return [await _finish(client, task_queue, run_input(document, {"obj": {"a": 1}}))]


def registry_graph(prompt: str = "greet@production") -> dict[str, Any]:
    """An llm node naming a registry prompt and a foreach whose llm body names a model."""
    each = {"type": "llm", "config": {"model_ref": "clf@production", "prompt": "{{ item }}"}}
    return graph(
        "registry",
        [
            {"id": "ask", "type": "llm",
             "config": {"prompt_ref": prompt, "variables": {"name": "{{ inputs.name }}"}}},
            {"id": "all", "type": "foreach", "config": {"items": "[1, 2]", "node": each}},
        ],
        [edge("ask", "all")],
    )  # fmt: skip


async def registry_pin(client: Client, task_queue: str) -> list[WorkflowHandle[Any, Any]]:
    """A run started with its registry references unpinned (as a schedule starts one): it
    pins them itself, first, with the `registry.pin` local activity."""
    request = run_input(registry_graph(), {"name": "Ada"}, trigger="schedule")
    return [await _finish(client, task_queue, request)]


async def fan_and_render(client: Client, task_queue: str) -> list[WorkflowHandle[Any, Any]]:
    """Recorded when every run asked for the template-budget patch as it began, and each
    activity carried a summary: a fan-out of http nodes that renders nothing in the
    workflow, and http nodes followed by transforms (the patch first matters there), with
    a foreach in batches."""
    fan = graph("fan", [http(f"n{index}") for index in range(3)], [])
    body = {"type": "http", "config": {"url": "https://svc.test/echo", "json": "{{ item }}"}}
    rendered = graph(
        "render",
        [
            http("fetch"),
            transform("shape", "{{ nodes.fetch.output.url }}!"),
            {"id": "each", "type": "foreach",
             "config": {"items": "range(5) | list", "node": body, "batch_size": 2}},
        ],
        [edge("fetch", "shape"), edge("shape", "each")],
    )  # fmt: skip
    handles = [
        await _finish(client, task_queue, run_input(fan)),
        await _finish(client, task_queue, run_input(rendered)),
    ]
    batch = client.get_workflow_handle(f"{handles[1].id}:each:batch-0")
    return [*handles, batch]


async def named_activities(client: Client, task_queue: str) -> list[WorkflowHandle[Any, Any]]:
    """The graphs of `fan_and_render`, recorded once node activities took their node's id
    and the patch is asked where it first matters."""
    return await fan_and_render(client, task_queue)


async def stored_items(client: Client, task_queue: str) -> list[WorkflowHandle[Any, Any]]:
    """A foreach over a list a transform stored (its JSON is over the run's blob threshold),
    in batches of 2: recorded when the run read the list back with `blob.get` and put each
    batch's items in its child's input."""
    pad = "x" * 300
    made = transform("made", [f"{{{{ inputs.pad }}}}-{number}" for number in range(5)])
    body = {"type": "http", "config": {"url": "https://svc.test/echo", "json": "{{ item[-1] }}"}}
    each = {"id": "each", "type": "foreach",
            "config": {"items": "nodes.made.output", "node": body, "batch_size": 2}}  # fmt: skip
    document = graph("stored-items", [made, each], [edge("made", "each")])
    request = run_input(document, {"pad": pad}, blob_threshold_bytes=1024)
    handle = await _finish(client, task_queue, request)
    return [handle, client.get_workflow_handle(f"{handle.id}:each:batch-0")]


async def sliced_items(client: Client, task_queue: str) -> list[WorkflowHandle[Any, Any]]:
    """The graph of `stored_items`, recorded once `node.pure` evaluates the items over the
    stored list (storing them again: over the threshold) and each batch reads its own with
    `blob.slice`."""
    return await stored_items(client, task_queue)


async def llm_task_queue(client: Client, task_queue: str) -> list[WorkflowHandle[Any, Any]]:
    """llm nodes on the run's `llm_task_queue`, served by a worker that polls it alone: one
    node, one that runs as a local activity (in the workflow's worker), one in a subgraph."""
    ask = {"type": "llm", "config": {"route": "fast", "prompt": "hi {{ inputs.name }}"}}
    child = compile_graph(graph("child", [{"id": "ask", **ask}], []))
    document = graph(
        "llm_queue",
        [
            {"id": "ask", **ask},
            {"id": "near", **ask, "execution": "local"},
            {"id": "sub", "type": "subgraph", "config": {"graph_id": "child",
             "version": child.version_id, "inputs": {"name": "{{ nodes.ask.output.text }}"}}},
        ],
        [edge("ask", "sub")],
    )  # fmt: skip
    llm_queue = f"{task_queue}-llm"
    request = run_input(
        document, {"name": "Ann"}, subgraphs={child.version_id: child}, llm_task_queue=llm_queue
    )
    async with Worker(client, task_queue=llm_queue, activities=[FakeNodes().llm]):
        handle = await _finish(client, task_queue, request)
    return [handle, client.get_workflow_handle(f"{handle.id}:sub")]


SCENARIOS: dict[str, Scenario] = {
    "diamond": diamond,
    "branches": branches,
    "failure": failure,
    "approval": approval,
    "foreach": foreach,
    "subgraph": subgraph,
    "continue_as_new": continue_as_new,
    "text_of_objects": text_of_objects,
    "registry_pin": registry_pin,
    "fan_and_render": fan_and_render,
    "named_activities": named_activities,
    "stored_items": stored_items,
    "sliced_items": sliced_items,
    "llm_task_queue": llm_task_queue,
}


async def record(client: Client, task_queue: str, name: str) -> dict[str, dict[str, Any]]:
    """Runs one scenario with fake activities; `{"workflow_id", "history"}` by file stem."""
    async with graph_worker(client, task_queue, FakeNodes()):
        handles = await SCENARIOS[name](client, task_queue)
        histories = {}
        for index, handle in enumerate(handles):
            history = await handle.fetch_history()
            histories[f"{name}-{index}"] = {
                "workflow_id": handle.id,
                "history": history.to_json_dict(),
            }
    return histories
