"""Benchmark: one tenant's backlog against another tenant's run, with and without fairness.

Run on demand (not part of `make test`):

    .venv/bin/python -m tests.benchmarks.fairness [--noisy 1000] [--repeat 3]

Two in-memory Temporal dev servers side by side: one started as `auterity dev` and
the tests start theirs (`naming.dev_server_arguments()`: `matching.enableFairness`),
one with the server's defaults (first in, first out). On each:

1. alone: a worker idles on the task queue; the quiet tenant starts one run (a
   transform and an `http` node, the activity answering at once) and waits for it;
2. behind a backlog: while the worker runs, the noisy tenant starts `noisy` runs of
   the same graph, 50 at a time (far faster than one worker finishes them), then the
   quiet tenant starts one, whose start-to-finish latency is taken; then the noisy
   backlog drains.

The worker takes at most 4 workflow tasks and 16 activities at a time: what it has not
taken waits in the server's task queue, where fairness applies.

Runs are started the way the API starts them (`start_execution`: the tenant is the
fairness key). Last line:

    RESULT quiet_alone_ms=<a> quiet_behind_backlog_fair_ms=<f> quiet_behind_backlog_fifo_ms=<o>
        fair_over_alone=<f/a> fifo_over_alone=<o/a>

each the median of `repeat` runs (its range printed above it).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import time
import uuid
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.services.executions import start_execution
from auterity.graph.compiler import ExecutionPlan, compile_graph
from auterity.graph.naming import SEARCH_ATTRIBUTES, dev_server_arguments
from auterity.graph.run import GraphRunInput
from tests.benchmarks.baseline import noop_http
from workflows.graph_workflow import GraphWorkflow

GRAPH = {
    "name": "fairness",
    "inputs": {"type": "object", "properties": {"n": {"type": "integer"}}},
    "nodes": [
        {"id": "prepare", "type": "transform", "config": {"value": "{{ inputs.n }}"}},
        {"id": "call", "type": "http", "config": {"url": "http://127.0.0.1:9/noop"}},
    ],
    "edges": [{"from": "prepare", "to": "call"}],
}
NOISY, QUIET = "noisy", "quiet"
WORKFLOW_TASK_SLOTS = 4
ACTIVITY_SLOTS = 16


class Bench:
    def __init__(self, client: Client, plan: ExecutionPlan) -> None:
        self.client = client
        self.plan = plan

    def worker(self, task_queue: str) -> Worker:
        """A worker that takes no more tasks than it can work on at once, so a backlog
        waits in the server's task queue, where fairness applies (a worker that accepts
        more holds a first-in-first-out queue of its own)."""
        return Worker(
            self.client, task_queue=task_queue, workflows=[GraphWorkflow], activities=[noop_http],
            max_concurrent_workflow_tasks=WORKFLOW_TASK_SLOTS,
            max_concurrent_activities=ACTIVITY_SLOTS,
        )  # fmt: skip

    async def start(self, task_queue: str, tenant: str, n: int) -> str:
        run = GraphRunInput(
            tenant=tenant, graph_id="bench", version_id=self.plan.version_id, plan=self.plan,
            inputs={"n": n}, trigger="api",
        )  # fmt: skip
        return (await start_execution(self.client, task_queue, run)).execution_id

    async def finish(self, workflow_id: str) -> None:
        await self.client.get_workflow_handle(workflow_id).result()

    async def alone(self) -> float:
        task_queue = f"fair-{uuid.uuid4()}"
        async with self.worker(task_queue):
            await self.finish(await self.start(task_queue, QUIET, 0))  # warm the worker
            began = time.perf_counter()
            await self.finish(await self.start(task_queue, QUIET, 1))
            return time.perf_counter() - began

    async def behind_backlog(self, noisy: int) -> tuple[float, float]:
        """The quiet run's start-to-finish latency, and how long the noisy backlog took."""
        task_queue = f"fair-{uuid.uuid4()}"
        slots = asyncio.Semaphore(50)

        async def start_noisy(n: int) -> str:
            async with slots:
                return await self.start(task_queue, NOISY, n)

        async with self.worker(task_queue):
            await self.finish(await self.start(task_queue, QUIET, 0))  # warm the worker
            flood = time.perf_counter()
            noisy_ids = await asyncio.gather(*(start_noisy(n) for n in range(noisy)))
            began = time.perf_counter()
            await self.finish(await self.start(task_queue, QUIET, 1))
            quiet = time.perf_counter() - began
            for workflow_id in noisy_ids:
                await self.finish(workflow_id)
            return quiet, time.perf_counter() - flood


async def server(extra_args: list[str]) -> WorkflowEnvironment:
    temporal = shutil.which("temporal") or str(Path(sys.executable).parent / "temporal")
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal, data_converter=pydantic_data_converter,
        search_attributes=SEARCH_ATTRIBUTES, dev_server_log_level="error",
        dev_server_extra_args=extra_args,
    )  # fmt: skip


def summary(values: list[float]) -> str:
    return (
        f"median {statistics.median(values) * 1000:.0f} ms "
        f"(range {min(values) * 1000:.0f}-{max(values) * 1000:.0f})"
    )


async def main(noisy: int, repeat: int) -> None:
    plan = compile_graph(GRAPH)
    fair_env = await server(dev_server_arguments())
    fifo_env = await server([])
    try:
        fair, fifo = Bench(fair_env.client, plan), Bench(fifo_env.client, plan)
        alone: list[float] = []
        behind: dict[str, list[float]] = {"fair": [], "fifo": []}
        for _ in range(repeat):
            alone.append(await fair.alone())
            for name, bench in (("fair", fair), ("fifo", fifo)):
                quiet, drained = await bench.behind_backlog(noisy)
                behind[name].append(quiet)
                print(
                    f"{name}: quiet run {quiet * 1000:.0f} ms behind {noisy} noisy runs "
                    f"(the noisy runs took {drained:.1f} s from their first start)",
                    flush=True,
                )
        print(f"quiet run alone: {summary(alone)}")
        for name, values in behind.items():
            print(f"quiet run behind {noisy} noisy runs, {name}: {summary(values)}")
    finally:
        await fair_env.shutdown()
        await fifo_env.shutdown()
    a = statistics.median(alone)
    f, o = statistics.median(behind["fair"]), statistics.median(behind["fifo"])
    print(
        f"RESULT quiet_alone_ms={a * 1000:.0f} quiet_behind_backlog_fair_ms={f * 1000:.0f} "
        f"quiet_behind_backlog_fifo_ms={o * 1000:.0f} fair_over_alone={f / a:.1f} "
        f"fifo_over_alone={o / a:.1f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--noisy", type=int, default=1000, help="the noisy tenant's backlog")
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.noisy, max(arguments.repeat, 1)))
