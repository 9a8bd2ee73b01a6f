"""GraphWorkflow with the real http and blob activities against a local HTTP server."""

from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from temporalio.client import Client, WorkflowFailureError
from temporalio.worker import Worker

from activities.blobs import FileBlobStore
from activities.http import HttpActivities
from activities.secrets import StaticSecretSource
from auterity.egress import EgressClient
from auterity.graph import contracts
from auterity.graph.compiler import compile_graph
from tests.support import LOOPBACK_EGRESS, serve
from tests.workflows.graph_workflow.support import (
    TENANT,
    edge,
    graph,
    run_input,
    start,
    stored_values_worker,
    transform,
)
from workflows.graph_workflow import GraphWorkflow

SECRET = "s3cret-token-value"


class Service:
    """Fails `/flaky` twice per idempotency key, then answers; counts every call."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.headers: list[dict[str, str]] = []

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/flaky")
        async def flaky(request: Request) -> JSONResponse:
            key = request.headers.get("idempotency-key", "")
            self.calls[key] += 1
            self.headers.append(dict(request.headers))
            if self.calls[key] <= 2:
                return JSONResponse({"error": "busy"}, status_code=503)
            return JSONResponse({"ok": True, "body": await request.json()})

        @app.get("/missing")
        async def missing(request: Request) -> JSONResponse:
            self.calls[request.headers.get("idempotency-key", "")] += 1
            return JSONResponse({"error": "no"}, status_code=404)

        @app.get("/big")
        async def big() -> JSONResponse:
            return JSONResponse({"rows": list(range(500))})

        return app


@pytest.fixture
def service() -> Iterator[tuple[Service, str]]:
    recorder = Service()
    with serve(recorder.app()) as url:
        yield recorder, url


@pytest.fixture
async def real_worker(
    temporal_client: Client, task_queue: str, tmp_path: Path
) -> AsyncIterator[Worker]:
    store = FileBlobStore(tmp_path)
    async with EgressClient(LOOPBACK_EGRESS) as client:
        http = HttpActivities(
            client, StaticSecretSource({TENANT: {"token": SECRET}}), store, threshold_bytes=256
        )
        async with stored_values_worker(
            temporal_client, task_queue, store, http.request, 256
        ) as worker:
            yield worker


def call(path: str, method: str = "GET", **fields: Any) -> dict[str, Any]:
    config = {
        "method": method,
        "url": "{{ inputs.base }}/" + path,
        "headers": {"Authorization": "Bearer {{ secrets.token }}"},
        **fields.pop("config", {}),
    }
    return {"id": "call", "type": "http", "config": config, **fields}


async def test_http_node_fails_twice_then_succeeds(
    temporal_client: Client, task_queue: str, service: tuple[Service, str], real_worker: Worker
) -> None:
    recorder, base = service
    document = graph(
        "flaky",
        [
            call(
                "flaky",
                "POST",
                config={"json": {"n": "{{ inputs.n }}"}},
                retry={"initial_interval": "100ms", "maximum_attempts": 5},
            )
        ],
        [],
    )
    handle = await start(temporal_client, task_queue, run_input(document, {"base": base, "n": 7}))
    result = await handle.result()
    history = await handle.fetch_history()
    assert result.nodes["call"].output["body"] == {"ok": True, "body": {"n": 7}}
    assert result.nodes["call"].attempts == 3
    state = await handle.query(GraphWorkflow.state)
    assert state.nodes["call"].attempts == 3
    assert recorder.calls == Counter({f"{handle.id}:call": 3})  # one key for every attempt
    assert {headers["authorization"] for headers in recorder.headers} == {f"Bearer {SECRET}"}
    assert SECRET not in history.to_json()


async def test_http_client_errors_are_not_retried(
    temporal_client: Client, task_queue: str, service: tuple[Service, str], real_worker: Worker
) -> None:
    recorder, base = service
    document = graph("missing", [call("missing", retry={"maximum_attempts": 5})], [])
    handle = await start(temporal_client, task_queue, run_input(document, {"base": base}))
    with pytest.raises(WorkflowFailureError) as caught:
        await handle.result()
    assert caught.value.cause.details[0]["error"]["type"] == "HttpClientError"
    assert sum(recorder.calls.values()) == 1


async def test_large_outputs_travel_as_blob_refs(
    temporal_client: Client, task_queue: str, service: tuple[Service, str], real_worker: Worker
) -> None:
    _, base = service
    document = graph(
        "big",
        [call("big"), transform("count", "{{ nodes.call.output.body.rows | length }}")],
        [edge("call", "count")],
    )
    handle = await start(temporal_client, task_queue, run_input(document, {"base": base}))
    result = await handle.result()
    assert "$blob" in result.nodes["call"].output
    assert result.nodes["count"].output == 500


async def test_a_subgraph_run_stores_outputs_over_its_parents_threshold(
    temporal_client: Client, task_queue: str, real_worker: Worker
) -> None:
    """A child run keeps the blob threshold its parent started with (here 1 KiB, not the
    64 KiB default): its 2 kB transform output is stored, not carried in its history."""
    child = compile_graph(graph("child", [transform("pad", "{{ 'x' * 2000 }}")], []))
    sub = {"id": "sub", "type": "subgraph",
           "config": {"graph_id": "child", "version": child.version_id}}  # fmt: skip
    request = run_input(
        graph("parent", [sub], []), subgraphs={child.version_id: child}, blob_threshold_bytes=1024
    )
    handle = await start(temporal_client, task_queue, request)
    await handle.result()
    child_result = await temporal_client.get_workflow_handle(f"{handle.id}:sub").result()
    assert contracts.is_blob_ref(child_result["nodes"]["pad"]["output"])
