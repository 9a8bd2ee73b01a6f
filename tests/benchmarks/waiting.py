"""Benchmark: many runs waiting on an approval, held by one worker process.

Run on demand (not part of `make test`):

    .venv/bin/python -m tests.benchmarks.waiting [--runs 1000] [--concurrency 50]
        [--cache N] [--baseline-cache 1000] [--timeout 1800] [--llm none|worker|split]

It starts an in-memory Temporal dev server and `auterity worker` as its own
process on a fresh SQLite database, with one tenant. Then it measures the
worker's resident memory (VmRSS) idle, starts `runs` runs of a graph whose one
node is an approval, waits until every run has opened its human task, measures
the RSS again, approves every task in bulk (the `complete_task` Update, as the
API sends it), waits until every run has finished and measures once more, with
the worker's CPU time over the bulk approval (runs evicted from the worker's
cache replay their history then).

`--llm` first runs one graph with an llm node (the mock model): `worker` runs it on
the worker, which then holds LiteLLM, as a production worker that ever ran an llm node
does; `split` sets AUTERITY_LLM_TASK_QUEUE and runs it on an `auterity worker --llm`
process of its own, whose RSS the RESULT line adds as `llm_worker_rss_mb`; `none` (the
default) runs none.

`--cache` sets the worker's AUTERITY_WORKER_MAX_CACHED_WORKFLOWS (its default if
unset). Each measurement prints `RESULT runs=<n> cache=<n> rss_idle_mb=<..>
rss_waiting_mb=<..> rss_after_mb=<..> opened_seconds=<..> approved_seconds=<..>
approved_cpu_seconds=<..> completed=<n>`. With `--baseline-cache`, a worker caching
that many runs is measured first, on its own server, and a last RESULT line gives
the ratios of the measured worker to it: `waiting_growth_ratio` (RSS waiting minus
idle), `approved_seconds_ratio`, `approved_cpu_ratio`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from auterity import migrate
from auterity.db import make_engine, make_sessionmaker, transaction
from auterity.dev import DEV_EGRESS_ALLOW, temporal_binary
from auterity.graph.compiler import compile_graph
from auterity.graph.run import (
    UPDATE_COMPLETE_TASK,
    WORKFLOW_NAME,
    GraphRunInput,
    GraphRunResult,
    TaskDecision,
)
from auterity.models.tasks import HumanTask
from auterity.security.accounts import create_tenant
from auterity.settings import Settings

GRAPH = {
    "name": "wait-for-approval",
    "nodes": [
        {"id": "ask", "type": "approval", "config": {"assignees": ["role:owner"], "title": "Go?"}},
        {"id": "done", "type": "transform", "config": {"value": "{{ nodes.ask.output.decision }}"}},
    ],
    "edges": [{"from": "ask", "to": "done", "when": "approved"}],
}
LLM_GRAPH = {
    "name": "ask-a-model",
    "nodes": [{"id": "say", "type": "llm", "config": {"route": "default", "prompt": "hello"}}],
}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


async def wait_for(check, seconds: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not await asyncio.to_thread(check):
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {seconds}s waiting for {what}")
        await asyncio.sleep(0.5)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(
    runs: int, concurrency: int, timeout: float, cache: int | None, llm: str = "none"
) -> Figures:
    """One worker process (its cache `cache` runs, the setting's default if None) on its own
    Temporal dev server and database; with `llm` (see the module docstring), after one run
    of an llm node."""
    home = Path(tempfile.mkdtemp(prefix="auterity-waiting-"))
    url = f"sqlite:///{home / 'auterity.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as session:
        tenant = create_tenant(session, f"w-{uuid.uuid4().hex[:8]}")
        tenant_id, slug = tenant.id, tenant.slug
    task_queue = f"waiting-{uuid.uuid4()}"
    llm_queue = f"{task_queue}-llm" if llm == "split" else ""

    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        data_converter=pydantic_data_converter,
        dev_server_log_level="error",
    ) as env:
        client: Client = env.client
        address = client.service_client.config.target_host
        environment = dict(
            os.environ,
            AUTERITY_HOME=str(home),
            AUTERITY_DATABASE_URL=url,
            AUTERITY_TEMPORAL_ADDRESS=address,
            AUTERITY_TASK_QUEUE=task_queue,
            AUTERITY_LLM_TASK_QUEUE=llm_queue,
            AUTERITY_WORKER_METRICS_PORT="0",
            AUTERITY_EGRESS_ALLOW=DEV_EGRESS_ALLOW,
            AUTERITY_LOG_LEVEL="WARNING",
        ) | ({} if cache is None else {"AUTERITY_WORKER_MAX_CACHED_WORKFLOWS": str(cache)})

        def spawn(name: str, *options: str) -> subprocess.Popen[bytes]:
            with (home / f"{name}.log").open("wb") as log:
                return subprocess.Popen(
                    [sys.executable, "-m", "auterity.cli", "worker", *options],
                    env=environment, stdout=log, stderr=subprocess.STDOUT,
                )  # fmt: skip

        worker = spawn("worker")
        workers = [worker, *([spawn("llm-worker", "--llm")] if llm_queue else [])]
        try:
            for name in ("worker", "llm-worker")[: len(workers)]:
                await wait_for(
                    lambda name=name: "polling task queue" in (home / f"{name}.log").read_text(),
                    120, name,
                )  # fmt: skip
            if llm != "none":
                llm_plan = compile_graph(LLM_GRAPH)
                asked = await client.execute_workflow(
                    WORKFLOW_NAME,
                    GraphRunInput(
                        tenant=slug, graph_id="llm", version_id=llm_plan.version_id,
                        plan=llm_plan, llm_task_queue=llm_queue or None,
                    ),
                    id=f"{slug}:llm:warm", task_queue=task_queue, result_type=GraphRunResult,
                )  # fmt: skip
                assert asked.nodes["say"].status == "succeeded", asked
            await asyncio.sleep(3)
            idle = rss_mb(worker.pid)

            plan = compile_graph(GRAPH)
            run = GraphRunInput(tenant=slug, graph_id="g", version_id=plan.version_id, plan=plan)
            slots = asyncio.Semaphore(concurrency)

            async def start(number: int) -> str:
                async with slots:
                    handle = await client.start_workflow(
                        WORKFLOW_NAME, run, id=f"{slug}:g:{number:05d}", task_queue=task_queue
                    )
                    return handle.id

            began = time.monotonic()
            ids = await asyncio.gather(*(start(number) for number in range(runs)))

            def opened() -> int:
                with transaction(sessions, tenant_id) as session:
                    return int(session.scalar(select(func.count()).select_from(HumanTask)) or 0)

            await wait_for(lambda: opened() >= runs, timeout, f"{runs} open tasks")
            opened_seconds = time.monotonic() - began
            await asyncio.sleep(3)
            waiting = rss_mb(worker.pid)

            with transaction(sessions, tenant_id) as session:
                tasks = dict(session.execute(select(HumanTask.execution_id, HumanTask.id)).all())

            async def approve(execution_id: str) -> str:
                async with slots:
                    handle = client.get_workflow_handle(execution_id, result_type=GraphRunResult)
                    await handle.execute_update(
                        UPDATE_COMPLETE_TASK,
                        TaskDecision(task_id=tasks[execution_id], decision="approved"),
                    )
                    result = await handle.result()
                    return str(result.nodes["done"].output)

            began, cpu = time.monotonic(), cpu_seconds(worker.pid)
            outputs = await asyncio.gather(*(approve(execution_id) for execution_id in ids))
            approved_seconds = time.monotonic() - began
            approved_cpu = cpu_seconds(worker.pid) - cpu
            after = rss_mb(worker.pid)
            llm_worker = rss_mb(workers[1].pid) if llm_queue else None
        finally:
            for process in workers:
                process.terminate()
            for process in workers:
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
    engine.dispose()
    figures = Figures(
        cache=settings_cache(cache), rss_idle_mb=idle, rss_waiting_mb=waiting, rss_after_mb=after,
        opened_seconds=opened_seconds, approved_seconds=approved_seconds,
        approved_cpu_seconds=approved_cpu,
        completed=sum(output == "approved" for output in outputs), llm=llm,
        llm_worker_rss_mb=llm_worker,
    )  # fmt: skip
    print(f"RESULT runs={runs} {figures.line()}", flush=True)
    return figures


@dataclass
class Figures:
    cache: int
    rss_idle_mb: float
    rss_waiting_mb: float
    rss_after_mb: float
    opened_seconds: float
    approved_seconds: float
    approved_cpu_seconds: float
    completed: int
    llm: str = "none"
    llm_worker_rss_mb: float | None = None

    def line(self) -> str:
        llm_worker = (
            "" if self.llm_worker_rss_mb is None
            else f" llm_worker_rss_mb={self.llm_worker_rss_mb:.0f}"
        )  # fmt: skip
        return (
            f"llm={self.llm} cache={self.cache} rss_idle_mb={self.rss_idle_mb:.0f} "
            f"rss_waiting_mb={self.rss_waiting_mb:.0f} rss_after_mb={self.rss_after_mb:.0f} "
            f"opened_seconds={self.opened_seconds:.1f} "
            f"approved_seconds={self.approved_seconds:.1f} "
            f"approved_cpu_seconds={self.approved_cpu_seconds:.1f} completed={self.completed}"
            f"{llm_worker}"
        )


def settings_cache(cache: int | None) -> int:
    return Settings().worker_max_cached_workflows if cache is None else cache


async def main(
    runs: int,
    concurrency: int,
    timeout: float,
    cache: int | None,
    baseline: int | None,
    llm: str = "none",
) -> None:
    """With `baseline`, a worker caching that many runs first, then the measured one, and
    the ratios of the second to the first."""
    if baseline is None:
        await measure(runs, concurrency, timeout, cache, llm)
        return
    before = await measure(runs, concurrency, timeout, baseline, llm)
    after = await measure(runs, concurrency, timeout, cache, llm)
    grew_before = before.rss_waiting_mb - before.rss_idle_mb
    grew_after = after.rss_waiting_mb - after.rss_idle_mb
    print(
        f"RESULT runs={runs} baseline_cache={before.cache} cache={after.cache} "
        f"rss_waiting_mb={after.rss_waiting_mb:.0f} baseline_rss_waiting_mb="
        f"{before.rss_waiting_mb:.0f} waiting_growth_ratio={grew_after / grew_before:.2f} "
        f"approved_seconds_ratio={after.approved_seconds / before.approved_seconds:.2f} "
        f"approved_cpu_ratio={after.approved_cpu_seconds / before.approved_cpu_seconds:.2f} "
        f"completed={after.completed}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument(
        "--cache", type=int, default=None,
        help="AUTERITY_WORKER_MAX_CACHED_WORKFLOWS of the worker (its default if unset)",
    )  # fmt: skip
    parser.add_argument(
        "--baseline-cache", type=int, default=None,
        help="first measure a worker caching this many runs (1000: temporalio's default), "
        "then print the measured one's ratios to it",
    )  # fmt: skip
    parser.add_argument(
        "--timeout", type=float, default=1800, help="seconds for every run to open its task"
    )
    parser.add_argument(
        "--llm", choices=["none", "worker", "split"], default="none",
        help="first run an llm node: on the worker, or on an llm worker of its own (split)",
    )  # fmt: skip
    arguments = parser.parse_args()
    asyncio.run(
        main(
            arguments.runs,
            arguments.concurrency,
            arguments.timeout,
            arguments.cache,
            arguments.baseline_cache,
            arguments.llm,
        )  # fmt: skip
    )
