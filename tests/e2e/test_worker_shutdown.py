"""`auterity worker` as an operator runs it: SIGTERM lets the in-flight activity finish."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from api.services.executions import start_execution
from auterity.dev import DEV_EGRESS_ALLOW
from auterity.graph.compiler import compile_graph
from auterity.graph.run import GraphRunInput
from tests.support import free_port, serve

pytestmark = pytest.mark.e2e


async def test_sigterm_drains_the_in_flight_activity(
    temporal_client, temporal_address: str, database_url: str, tmp_path: Path
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("one engine is enough: the database is not on this path")
    calls: list[float] = []
    slow = FastAPI()

    @slow.post("/slow")
    async def respond() -> dict[str, bool]:
        calls.append(time.monotonic())
        await asyncio.sleep(2)
        return {"ok": True}

    exported: list[tuple[str, bytes]] = []

    @slow.post("/v1/traces")  # an OTLP/HTTP receiver: what a collector would get
    async def receive_traces(request: Request) -> Response:
        exported.append((request.headers.get("content-type", ""), await request.body()))
        return Response(status_code=200)

    task_queue = f"drain-{uuid.uuid4()}"
    metrics_port = free_port()
    env = dict(
        os.environ, AUTERITY_HOME=str(tmp_path), AUTERITY_DATABASE_URL=database_url,
        AUTERITY_TEMPORAL_ADDRESS=temporal_address, AUTERITY_TASK_QUEUE=task_queue,
        AUTERITY_WORKER_METRICS_PORT=str(metrics_port), AUTERITY_EGRESS_ALLOW=DEV_EGRESS_ALLOW,
        AUTERITY_LOG_FORMAT="json", OTEL_TRACES_EXPORTER="otlp",
    )  # fmt: skip
    with serve(slow) as base:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = base
        graph = {"name": "slow", "nodes": [
            {"id": "call", "type": "http", "config": {"method": "POST", "url": f"{base}/slow"},
             "retry": {"maximum_attempts": 1}}]}  # fmt: skip
        plan = compile_graph(graph)
        run = GraphRunInput(tenant="drain", graph_id="g", version_id=plan.version_id, plan=plan)
        worker = subprocess.Popen(
            [sys.executable, "-m", "auterity.cli", "worker"], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            started = await start_execution(temporal_client, task_queue, run)
            deadline = time.monotonic() + 60  # the worker process imports and connects first
            while not calls and time.monotonic() < deadline and worker.poll() is None:
                await asyncio.sleep(0.05)
            assert calls, "the activity never reached the server"
            metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
            assert "temporal_activity_task_received" in metrics
            assert "temporal_worker_task_slots_used" in metrics
            worker.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(worker.wait, 30)
            output = worker.stdout.read() if worker.stdout else ""
            assert code == 0, output
            assert "worker: stopped" in output
            handle = temporal_client.get_workflow_handle(started.execution_id)
            history = await handle.fetch_history()
            completed = [
                e for e in history.events if e.HasField("activity_task_completed_event_attributes")
            ]
            assert len(completed) == 1, "the in-flight activity was not allowed to finish"
            assert len(calls) == 1
            # its logs: JSON lines, the activity's carrying the run, the node and a trace id
            lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
            assert lines and all({"time", "level", "logger", "message"} <= line.keys()
                                 for line in lines)  # fmt: skip
            answered = [line for line in lines if line["logger"] == "auterity.activities.http"]
            assert answered, output
            assert answered[0]["execution_id"] == started.execution_id
            assert answered[0]["node_id"] == "call" and answered[0]["tenant"] == "drain"
            # its traces, exported over OTLP before the process ended
            assert exported, "no span reached the OTLP endpoint"
            assert {kind for kind, _ in exported} == {"application/x-protobuf"}
            body = b"".join(payload for _, payload in exported)
            assert b"RunActivity:node.http" in body and b"auterity-worker" in body
            assert answered[0]["trace_id"] and started.execution_id.encode() in body
        finally:
            if worker.poll() is None:
                worker.kill()
