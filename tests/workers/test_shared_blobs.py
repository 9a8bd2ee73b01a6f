"""Two workers share large outputs through the S3 blob store (`AUTERITY_BLOB_URL`).

Worker A runs the first nodes of a graph (an http call with a large answer, a
transform over it, a transform computing a large list in workflow code) and stops;
worker B, with a home directory of its own, runs the rest, reading what A stored.
The run's history carries only refs: no stored value is written back into it.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import History
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from auterity.dev import DEV_EGRESS_ALLOW
from auterity.graph import contracts
from auterity.graph.compiler import compile_graph
from auterity.graph.run import QUERY_STATE, WORKFLOW_NAME, GraphRunInput, GraphRunResult, RunState
from auterity.settings import Settings, load_settings
from tests.servers import Recorder, S3Server
from workers.activities import ActivityRuntime
from workers.main import workflow_classes

TENANT = "shared-co"
ITEMS = 2000
THRESHOLD = 1024


def _settings(home: Path, database_url: str, blob_url: str) -> Settings:
    return load_settings(
        env="test",
        home=home,
        database_url=database_url,
        blob_url=blob_url,
        blob_threshold_bytes=THRESHOLD,
        egress_allow=DEV_EGRESS_ALLOW.split(","),
    )


def _graph(base: str) -> dict[str, Any]:
    return {
        "name": "shared-outputs",
        "nodes": [
            {"id": "fetch", "type": "http", "config": {"url": f"{base}/big?items={ITEMS}"}},
            {"id": "labels", "type": "transform",
             "config": {"expression": "nodes.fetch.output.body['items'] | map(attribute='label') | list"}},
            {"id": "made", "type": "transform", "config": {"expression": "range(3000) | list"}},
            {"id": "hold", "type": "wait", "config": {"duration": "3s"}},
            {"id": "send", "type": "http",
             "config": {"method": "POST", "url": f"{base}/echo",
                        "json": {"labels": "{{ nodes.labels.output }}",
                                 "made": "{{ nodes.made.output | length }}"}}},
        ],
        "edges": [
            {"from": "fetch", "to": "labels"}, {"from": "labels", "to": "hold"},
            {"from": "made", "to": "hold"}, {"from": "hold", "to": "send"},
        ],
    }  # fmt: skip


def _worker(client: Client, runtime: ActivityRuntime, task_queue: str, name: str) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=workflow_classes(),
        activities=runtime.activities(),
        identity=name,
    )


async def _state(handle: WorkflowHandle[Any, Any]) -> RunState:
    return await handle.query(QUERY_STATE, result_type=RunState)


async def test_two_workers_share_outputs_and_history_keeps_only_refs(
    temporal_client: Client,
    database_url: str,
    s3_server: S3Server,
    service: tuple[str, Recorder],
    tmp_path: Path,
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("one engine is enough: the database is not on this path")
    base, recorder = service
    prefix = f"outputs-{uuid.uuid4().hex[:8]}"
    task_queue = f"shared-{uuid.uuid4()}"
    plan = compile_graph(_graph(base))
    run = GraphRunInput(
        tenant=TENANT,
        graph_id="shared",
        version_id=plan.version_id,
        plan=plan,
        blob_threshold_bytes=THRESHOLD,
    )
    homes = [tmp_path / "a", tmp_path / "b"]
    first, second = (_settings(home, database_url, s3_server.url(prefix)) for home in homes)

    async with (
        ActivityRuntime(first) as runtime,
        _worker(temporal_client, runtime, task_queue, "worker-a"),
    ):
        handle = await temporal_client.start_workflow(
            WORKFLOW_NAME,
            run,
            id=f"{TENANT}:shared:{uuid.uuid4().hex[:12]}",
            task_queue=task_queue,
            result_type=GraphRunResult,
        )
        deadline = asyncio.get_running_loop().time() + 60
        while (await _state(handle)).nodes["hold"].status != "running":
            assert asyncio.get_running_loop().time() < deadline, await _state(handle)
            await asyncio.sleep(0.1)

    async with (
        ActivityRuntime(second) as runtime,
        _worker(temporal_client, runtime, task_queue, "worker-b"),
    ):
        result = await asyncio.wait_for(handle.result(), 60)

    (sent,) = [request for request in recorder.calls("/echo") if "labels" in request["body"]]
    body = json.loads(sent["body"])
    assert body == {"labels": [f"item-{n}" for n in range(ITEMS)], "made": 3000}
    for node_id in ("fetch", "labels", "made", "send"):
        assert contracts.is_blob_ref(result.nodes[node_id].output), node_id

    stored = s3_server.objects(f"{prefix}/")
    assert len(stored) == 4 and all(key.startswith(f"{prefix}/{TENANT}/") for key in stored)
    assert not any((home / "blobs").exists() for home in homes)

    history = await handle.fetch_history()
    started_by: dict[str, str] = {}
    scheduled: dict[int, str] = {}
    markers = 0
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attributes = event.activity_task_scheduled_event_attributes
            scheduled[event.event_id] = attributes.activity_type.name
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attributes = event.activity_task_started_event_attributes
            started_by[scheduled[attributes.scheduled_event_id]] = attributes.identity
        elif event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            markers += 1
    assert sorted(scheduled.values()) == sorted(
        [contracts.HTTP_ACTIVITY, contracts.PURE_ACTIVITY, contracts.HTTP_ACTIVITY]
    ), "the transform over a stored value runs as node.pure; nothing calls blob.get"
    assert started_by[contracts.PURE_ACTIVITY] == "worker-a"
    assert started_by[contracts.HTTP_ACTIVITY] == "worker-b"  # the last one: send
    assert markers >= 2, "the blob-offload patch and the blob.put local activity"

    raw = History(events=history.events).SerializeToString()  # payloads as stored, not base64
    assert f"item-{ITEMS - 1}".encode() not in raw, "a stored value came back into history"
    assert b"2999" not in raw
    assert len(raw) < 20_000, len(raw)
