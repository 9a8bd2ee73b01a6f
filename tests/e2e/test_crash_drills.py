"""Crash drills: workers SIGKILLed mid-call again and again, and the Temporal server
stopped and restarted mid-run. No run is lost and no side effect lands twice: every
attempt of a call carries the same Idempotency-Key, which the receiver dedupes on."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client, WorkflowHandle

from auterity import temporal
from auterity.dev import DEV_EGRESS_ALLOW, temporal_command
from auterity.graph.compiler import compile_graph
from auterity.graph.run import WORKFLOW_NAME, GraphRunInput, GraphRunResult
from auterity.network import wait_for_port
from auterity.settings import load_settings
from tests.e2e.test_worker_crash import Ledger, until
from tests.support import free_port, serve
from workers.activities import ActivityRuntime
from workers.main import build_worker

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
RUNS = int(os.environ.get("DRILL_RUNS", "20"))


class Workers:
    """Real worker processes forked by `tests/e2e/worker_zygote.py`, killed at will."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.output = log.open("wb")
        self.zygote = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.worker_zygote"],
            env=env, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.output,
        )  # fmt: skip
        self.alive: set[int] = set()
        self.killed: list[int] = []

    def spawn(self) -> int:
        assert self.zygote.stdin is not None and self.zygote.stdout is not None
        self.zygote.stdin.write(b"spawn\n")
        self.zygote.stdin.flush()
        line = self.zygote.stdout.readline()
        assert line.strip().isdigit(), f"the zygote did not fork a worker: {line!r}"
        pid = int(line)
        self.alive.add(pid)
        return pid

    def polling(self) -> int:
        """How many workers said they poll (the workers' log)."""
        self.output.flush()
        return self.log.read_text().count("worker: polling task queue")

    def kill(self, pid: int) -> None:
        assert pid in self.alive, f"{pid} is not one of this drill's live workers"
        os.kill(pid, signal.SIGKILL)
        self.alive.discard(pid)
        self.killed.append(pid)

    def close(self) -> None:
        if self.zygote.stdin is not None:
            self.zygote.stdin.close()
        try:
            self.zygote.wait(30)
        except subprocess.TimeoutExpired:
            self.zygote.kill()
        for pid in self.alive:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.output.close()


@contextmanager
def workers(env: dict[str, str], log: Path) -> Iterator[Workers]:
    pool = Workers(env, log)
    try:
        yield pool
    finally:
        pool.close()


def charge_graph(base: str) -> dict[str, Any]:
    return {"name": "charge", "nodes": [
        {"id": "call", "type": "http", "timeout": "2s",
         "config": {"method": "POST", "url": f"{base}/charge", "json": {"amount": 7}},
         "retry": {"initial_interval": "100ms", "maximum_interval": "300ms",
                   "maximum_attempts": 100}}]}  # fmt: skip


def worker_env(
    database_url: str, temporal_address: str, home: Path, task_queue: str
) -> dict[str, str]:
    return dict(
        os.environ, AUTERITY_HOME=str(home), AUTERITY_DATABASE_URL=database_url,
        AUTERITY_TEMPORAL_ADDRESS=temporal_address, AUTERITY_TASK_QUEUE=task_queue,
        AUTERITY_WORKER_METRICS_PORT="0", AUTERITY_EGRESS_ALLOW=DEV_EGRESS_ALLOW,
        AUTERITY_LOG_LEVEL="WARNING",
    )  # fmt: skip


async def calling_worker(handle: WorkflowHandle[Any, Any], alive: set[int], seconds: float) -> int:
    """The pid of a live worker running the run's call (a worker's identity is pid@host)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        description = await handle.describe()
        for pending in description.raw_description.pending_activities:
            identity = pending.last_worker_identity
            if pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED and identity:
                pid = int(identity.split("@", 1)[0])
                if pid in alive:
                    return pid
        assert asyncio.get_running_loop().time() < deadline, f"no live worker ran {handle.id}"
        await asyncio.sleep(0.05)


async def test_twenty_workers_sigkilled_mid_call_across_twenty_runs(
    temporal_client: Client, temporal_address: str, database_url: str, tmp_path: Path
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("one engine is enough: the database is not on this path")
    ledger = Ledger(work_seconds=0.5)
    task_queue = f"drill-{uuid.uuid4()}"
    env = worker_env(database_url, temporal_address, tmp_path, task_queue)
    with serve(ledger.app()) as base, workers(env, tmp_path / "workers.log") as pool:
        plan = compile_graph(charge_graph(base))
        pool.spawn()
        pool.spawn()
        await until(lambda: pool.polling() >= 2, 60, "two workers polling")
        loop = asyncio.get_running_loop()
        began = loop.time()
        handles = []
        for number in range(RUNS):
            run = GraphRunInput(tenant="drill", graph_id="g", version_id=plan.version_id, plan=plan)
            # A task handed to a killed worker's last poll waits out its timeout: 2s for
            # workflow tasks here, not the default 10s, keeps the drill short.
            handle = await temporal_client.start_workflow(
                WORKFLOW_NAME, run, id=f"drill:g:{uuid.uuid4().hex}", task_queue=task_queue,
                task_timeout=timedelta(seconds=2), result_type=GraphRunResult,
            )  # fmt: skip
            handles.append(handle)
            key = f"{handle.id}:call"
            await until(lambda key=key: key in ledger.received, 60, f"run {number}'s call")
            assert not ledger.effects[key], "the call must still be in flight when it dies"
            pool.kill(await calling_worker(handle, pool.alive, 10))
            pool.spawn()  # the fleet stays two strong
        killing = loop.time() - began
        results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 120)
        print(
            f"RESULT kills={len(pool.killed)} killing_seconds={killing:.1f} "
            f"total_seconds={loop.time() - began:.1f}"
        )

    assert len(pool.killed) == RUNS == len(set(pool.killed))
    keys = [f"{handle.id}:call" for handle in handles]
    assert ledger.effects == Counter({key: 1 for key in keys}), "an effect was lost or doubled"
    received = Counter(ledger.received)
    for key, result in zip(keys, results, strict=True):
        node = result.nodes["call"]
        assert node.status == "succeeded"
        assert node.output["body"] == {"charged": 7, "key": key}
        assert received[key] >= 2 and node.attempts >= 2, "every run lost an attempt"


def durable_graph(base: str) -> dict[str, Any]:
    """A call, a durable wait (the server goes down during it), another call."""
    retry = {"initial_interval": "200ms", "maximum_interval": "1s", "maximum_attempts": 100}
    return {"name": "durable", "nodes": [
        {"id": "first", "type": "http", "timeout": "5s", "retry": retry,
         "config": {"method": "POST", "url": f"{base}/charge", "json": {"amount": 1}}},
        {"id": "pause", "type": "wait", "config": {"duration": "3s"}},
        {"id": "second", "type": "http", "timeout": "5s", "retry": retry,
         "config": {"method": "POST", "url": f"{base}/charge", "json": {"amount": 2}}}],
        "edges": [{"from": "first", "to": "pause"}, {"from": "pause", "to": "second"}]}  # fmt: skip


@contextmanager
def temporal_server(home: Path, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`temporal server start-dev` on a database file, as `auterity dev` runs it."""
    command = temporal_command(home, port, free_port())
    with log.open("ab") as output:
        server = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_for_port("127.0.0.1", port, 60, "the Temporal dev server")
        yield server
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(5)


async def test_temporal_restarted_mid_run_runs_resume_and_finish(
    database_url: str, tmp_path: Path
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("one engine is enough: the database is not on this path")
    if (
        shutil.which("temporal") is None
        and shutil.which("temporal", path=str(Path(sys.executable).parent)) is None
    ):
        pytest.skip("the temporal CLI is not installed")
    ledger = Ledger(work_seconds=0.1)
    port = free_port()
    task_queue = f"restart-{uuid.uuid4()}"
    settings = load_settings(
        env="test", home=tmp_path, database_url=database_url,
        temporal_address=f"127.0.0.1:{port}", task_queue=task_queue,
        egress_allow=DEV_EGRESS_ALLOW.split(","),
    )  # fmt: skip
    log = tmp_path / "temporal.log"
    runs = 5
    with serve(ledger.app()) as base:
        plan = compile_graph(durable_graph(base))
        run = GraphRunInput(tenant="drill", graph_id="g", version_id=plan.version_id, plan=plan)
        with temporal_server(tmp_path, port, log) as first:
            client = await temporal.connect(settings)
            async with ActivityRuntime(settings) as runtime:
                worker = build_worker(client, settings, runtime.activities())
                async with worker:
                    handles = [
                        await client.start_workflow(
                            WORKFLOW_NAME,
                            run,
                            id=f"drill:g:{uuid.uuid4().hex}",
                            task_queue=task_queue,
                            result_type=GraphRunResult,
                        )  # fmt: skip
                        for _ in range(runs)
                    ]
                    firsts = {f"{handle.id}:first" for handle in handles}
                    await until(lambda: firsts <= set(ledger.effects), 60, "the first calls")
                    first.terminate()  # mid-run: every run is in its wait
                    assert not any(key.endswith(":second") for key in ledger.received)
                    assert await asyncio.to_thread(first.wait, 30) is not None
                    await asyncio.sleep(2)
                    with temporal_server(tmp_path, port, log):
                        results = await asyncio.wait_for(
                            asyncio.gather(*(handle.result() for handle in handles)), 90
                        )
    assert [result.nodes["second"].status for result in results] == ["succeeded"] * runs
    seconds = {f"{handle.id}:second" for handle in handles}
    assert ledger.effects == Counter(dict.fromkeys(firsts | seconds, 1)), "lost or doubled"
