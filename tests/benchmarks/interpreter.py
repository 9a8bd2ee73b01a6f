"""Benchmark: GraphWorkflow against hand-written workflows on the same server and worker.

Run on demand (not part of `make test`):

    .venv/bin/python -m tests.benchmarks.interpreter [--pairs 8] [--bytecode]

Each case runs A (graph) and B (baseline) alternately, A B A B…, and reports the
median of the per-pair ratios A/B. The sandbox imports a workflow's module afresh for every run; without bytecode in
`__pycache__` (PYTHONDONTWRITEBYTECODE, an editable install) that means compiling the
module's source each time, which costs the much larger `graph_workflow.py` more.
`--bytecode` compiles both sides' modules first, as an installed package has them.

The last line is:

    RESULT seq20=<r> fan50=<r> pure20=<r> local20=<r> events_per_node=<n>
"""

from __future__ import annotations

import argparse
import asyncio
import py_compile
import shutil
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from auterity.graph.compiler import compile_graph
from auterity.graph.naming import SEARCH_ATTRIBUTES
from auterity.graph.run import GraphRunInput
from tests.benchmarks import baseline
from tests.benchmarks.baseline import (
    FanOutWorkflow,
    OneActivityWorkflow,
    SequentialWorkflow,
    noop_http,
)
from workflows import graph_workflow
from workflows.graph_workflow import GraphWorkflow

URL = "http://127.0.0.1:9/noop"


def http_node(node_id: str, *, local: bool = False) -> dict[str, Any]:
    node: dict[str, Any] = {"id": node_id, "type": "http", "config": {"url": URL}}
    if local:
        node["execution"] = "local"
    return node


def chain(nodes: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"from": a["id"], "to": b["id"]} for a, b in zip(nodes, nodes[1:], strict=False)]


def seq_graph(count: int, *, local: bool = False) -> dict[str, Any]:
    nodes = [http_node(f"n{index}", local=local) for index in range(count)]
    return {"name": f"seq{count}", "nodes": nodes, "edges": chain(nodes)}


def fan_graph(count: int) -> dict[str, Any]:
    return {"name": f"fan{count}", "nodes": [http_node(f"n{i}") for i in range(count)], "edges": []}


def pure_graph(count: int) -> dict[str, Any]:
    """`count` transform/condition nodes in a chain, then one activity."""
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, str]] = []
    for index in range(count):
        if index % 2:
            node = {
                "id": f"p{index}",
                "type": "condition",
                "config": {"expression": f"{index} > 0"},
            }
        else:
            node = {"id": f"p{index}", "type": "transform", "config": {"value": {"i": index}}}
        if nodes:
            edge = {"from": nodes[-1]["id"], "to": node["id"]}
            if nodes[-1]["type"] == "condition":
                edge["when"] = "true"
            edges.append(edge)
        nodes.append(node)
    last = {"from": nodes[-1]["id"], "to": "call"}
    if nodes[-1]["type"] == "condition":
        last["when"] = "true"
    return {"name": "pure", "nodes": [*nodes, http_node("call")], "edges": [*edges, last]}


class Bench:
    def __init__(self, client: Client, task_queue: str) -> None:
        self.client = client
        self.task_queue = task_queue

    async def graph(self, definition: dict[str, Any]) -> str:
        plan = compile_graph(definition)
        run = GraphRunInput(
            tenant="bench", graph_id="bench", version_id=plan.version_id, plan=plan, trigger="bench"
        )
        workflow_id = f"bench:bench:{uuid.uuid4().hex}"
        await self.client.execute_workflow(
            GraphWorkflow.run, run, id=workflow_id, task_queue=self.task_queue
        )
        return workflow_id

    async def baseline(self, workflow: Any, count: int) -> str:
        workflow_id = f"bench-baseline-{uuid.uuid4().hex}"
        await self.client.execute_workflow(
            workflow.run, count, id=workflow_id, task_queue=self.task_queue
        )
        return workflow_id

    async def events(self, workflow_id: str) -> int:
        history = await self.client.get_workflow_handle(workflow_id).fetch_history()
        return len(history.events)


async def timed(action: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await action()
    return time.perf_counter() - started


async def pairs(
    name: str, a: Callable[[], Awaitable[Any]], b: Callable[[], Awaitable[Any]], count: int
) -> float:
    await a()  # warm up both paths (sandbox imports, caches)
    await b()
    ratios, a_times, b_times = [], [], []
    for _ in range(count):
        a_time = await timed(a)
        b_time = await timed(b)
        ratios.append(a_time / b_time)
        a_times.append(a_time)
        b_times.append(b_time)
    ratio = statistics.median(ratios)
    print(
        f"{name:8} A median {statistics.median(a_times) * 1000:8.1f} ms   "
        f"B median {statistics.median(b_times) * 1000:8.1f} ms   ratio {ratio:.3f}",
        flush=True,
    )
    return ratio


async def main(count: int, bytecode: bool) -> None:
    if bytecode:
        for module in (graph_workflow, baseline):
            py_compile.compile(str(module.__file__), doraise=True)
        print("bytecode compiled for graph_workflow.py and baseline.py")
    temporal = shutil.which("temporal") or str(Path(sys.executable).parent / "temporal")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal,
        data_converter=pydantic_data_converter,
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_log_level="error",
    )
    task_queue = f"bench-{uuid.uuid4()}"
    async with (
        env,
        Worker(
            env.client,
            task_queue=task_queue,
            workflows=[GraphWorkflow, SequentialWorkflow, FanOutWorkflow, OneActivityWorkflow],
            activities=[noop_http],
            max_concurrent_activities=200,
        ),
    ):
        bench = Bench(env.client, task_queue)
        seq20 = seq_graph(20)
        results = {
            "seq20": await pairs(
                "seq20", lambda: bench.graph(seq20), lambda: bench.baseline(SequentialWorkflow, 20), count
            ),
            "fan50": await pairs(
                "fan50", lambda: bench.graph(fan_graph(50)),
                lambda: bench.baseline(FanOutWorkflow, 50), count,
            ),
            "pure20": await pairs(
                "pure20", lambda: bench.graph(pure_graph(20)),
                lambda: bench.baseline(OneActivityWorkflow, 1), count,
            ),
            "local20": await pairs(
                "local20", lambda: bench.graph(seq_graph(20, local=True)),
                lambda: bench.graph(seq20), count,
            ),
        }  # fmt: skip
        # Per node: what one more sequential node adds to the history (start and
        # completion of the run itself are not a node's cost).
        graph_total = await bench.events(await bench.graph(seq20))
        graph_one = await bench.events(await bench.graph(seq_graph(1)))
        events = (graph_total - graph_one) / 19
        hand_total = await bench.events(await bench.baseline(SequentialWorkflow, 20))
        hand_one = await bench.events(await bench.baseline(SequentialWorkflow, 1))
        print(
            f"history events: seq20 graph {graph_total} (seq1 {graph_one}), "
            f"hand-written {hand_total} (seq1 {hand_one}); per added node: graph {events:.2f}, "
            f"hand-written {(hand_total - hand_one) / 19:.2f}"
        )
    print(
        "RESULT " + " ".join(f"{name}={value:.3f}" for name, value in results.items())
        + f" events_per_node={events:.2f}"
    )  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=8, help="A/B pairs per case (at least 8)")
    parser.add_argument(
        "--bytecode", action="store_true", help="compile both workflow modules first"
    )
    arguments = parser.parse_args()
    asyncio.run(main(max(arguments.pairs, 8), arguments.bytecode))
