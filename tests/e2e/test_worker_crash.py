"""`auterity worker` killed with SIGKILL mid-call: a new worker finishes the run, and the
receiving server applies the call's effect once, because every attempt sends the same key."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.client import Client

from api.services.executions import start_execution
from auterity.dev import DEV_EGRESS_ALLOW
from auterity.graph.compiler import compile_graph
from auterity.graph.run import GraphRunInput, GraphRunResult
from tests.support import serve

pytestmark = pytest.mark.e2e

WORK_SECONDS = 1.5
"""How long the receiving server works on a request before its effect lands."""


class Ledger:
    """A receiving service that dedupes by `Idempotency-Key`: the first request with a key
    applies the effect, later ones get the stored answer. It keeps working on a request
    whose caller has gone away, as real servers do."""

    def __init__(self, work_seconds: float = WORK_SECONDS) -> None:
        self.work_seconds = work_seconds
        self.received: list[str] = []
        self.effects: Counter[str] = Counter()
        self.answers: dict[str, dict[str, Any]] = {}
        self.applied_by: list[int] = []
        """Which request (1-based, in arrival order) applied each effect."""

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/charge")
        async def charge(request: Request) -> dict[str, Any]:
            key = request.headers.get("idempotency-key", "")
            body = await request.json()
            self.received.append(key)
            number = len(self.received)
            await asyncio.sleep(self.work_seconds)
            if key not in self.answers:
                self.effects[key] += 1
                self.applied_by.append(number)
                self.answers[key] = {"charged": body["amount"], "key": key}
            return self.answers[key]

        return app


@contextmanager
def worker_process(
    env: dict[str, str], log: Path, *options: str
) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m auterity.cli worker [options]`, output to `log`; killed on the way out if
    still up."""
    with log.open("wb") as output:
        worker = subprocess.Popen(
            [sys.executable, "-m", "auterity.cli", "worker", *options],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield worker
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)


async def until(ready: Any, seconds: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not ready():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        await asyncio.sleep(0.05)


async def test_sigkilled_worker_mid_call_is_replaced_and_the_effect_lands_once(
    temporal_client: Client, temporal_address: str, database_url: str, tmp_path: Path
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("one engine is enough: the database is not on this path")
    ledger = Ledger()
    task_queue = f"crash-{uuid.uuid4()}"
    env = dict(
        os.environ, AUTERITY_HOME=str(tmp_path), AUTERITY_DATABASE_URL=database_url,
        AUTERITY_TEMPORAL_ADDRESS=temporal_address, AUTERITY_TASK_QUEUE=task_queue,
        AUTERITY_WORKER_METRICS_PORT="0", AUTERITY_EGRESS_ALLOW=DEV_EGRESS_ALLOW,
    )  # fmt: skip
    with serve(ledger.app()) as base:
        graph = {"name": "charge", "nodes": [
            {"id": "call", "type": "http", "timeout": "3s",
             "config": {"method": "POST", "url": f"{base}/charge", "json": {"amount": 42}},
             "retry": {"initial_interval": "100ms", "maximum_interval": "500ms",
                       "maximum_attempts": 5}}]}  # fmt: skip
        plan = compile_graph(graph)
        run = GraphRunInput(tenant="crash", graph_id="g", version_id=plan.version_id, plan=plan)

        with worker_process(env, tmp_path / "first.log") as first:
            started = await start_execution(temporal_client, task_queue, run)
            await until(lambda: ledger.received or first.poll() is not None, 60, "the first call")
            assert ledger.received, (tmp_path / "first.log").read_text()
            assert not ledger.effects, "the call must still be in flight when the worker dies"
            first.send_signal(signal.SIGKILL)
            assert await asyncio.to_thread(first.wait, 10) == -signal.SIGKILL

        with worker_process(env, tmp_path / "second.log"):
            handle = temporal_client.get_workflow_handle(
                started.execution_id, result_type=GraphRunResult
            )
            try:
                result = await asyncio.wait_for(handle.result(), 90)
            except TimeoutError:
                pytest.fail(f"the run did not finish:\n{(tmp_path / 'second.log').read_text()}")

    key = f"{started.execution_id}:call"
    assert ledger.received == [key, key], "the retried attempt must carry the same key"
    assert ledger.effects == Counter({key: 1})
    assert ledger.applied_by == [1], "the lost attempt's effect landed; the retry was deduped"
    node = result.nodes["call"]
    assert node.status == "succeeded"
    assert node.output["body"] == {"charged": 42, "key": key}
    assert node.attempts == 2

    history = await handle.fetch_history()
    timeouts = [
        event.activity_task_timed_out_event_attributes
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT
    ]
    assert timeouts == [], "the lost attempt is retried by the server, not failed to the run"
    (completed_start,) = [
        event.activity_task_started_event_attributes
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    ]
    assert completed_start.attempt == 2
    timeout = completed_start.last_failure.timeout_failure_info.timeout_type
    assert timeout == TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE
