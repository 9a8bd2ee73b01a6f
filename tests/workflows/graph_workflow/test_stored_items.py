"""A foreach over a list in the blob store, with the real http, blob and `node.pure`
activities over a file store and a local HTTP server.

The parent run never reads the list: `node.pure` evaluates `config.items` and stores the
list again, the parent learns its ref and length, and each batch child reads its own items
with `blob.slice` (checked like `blob.get`: the run's tenant, the digest). A batch run given
another tenant's list, or a part the list does not hold, fails for good with a typed error.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import History
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from activities.blobs import FileBlobStore, encode, load, offload
from activities.http import HttpActivities
from activities.secrets import StaticSecretSource
from auterity.egress import EgressClient
from auterity.graph import contracts
from auterity.graph.compiler import compile_graph
from auterity.graph.run import ForeachBatch
from tests.support import LOOPBACK_EGRESS, serve
from tests.workflows.graph_workflow.support import (
    TENANT,
    edge,
    graph,
    run_input,
    start,
    stored_values_worker,
)

THRESHOLD = 8 * 1024
"""Below a batch's 100 results (about 11 kB), so they are stored too and joined by
`node.pure`: neither the items nor their results come into the parent's history."""
PAD = "p" * 400
"""Each row's padding: 3,000 rows make a list of about 1.3 MB, over the 1,000,000 characters
an expression may give in a workflow (`auterity.graph.budget.MAX_OUTPUT_CHARS`) but not
outside it, where a foreach's items over stored values are evaluated
(`MAX_STORED_ITEMS_CHARS`)."""


class Rows:
    """`GET /rows?n=` answers `n` padded rows named `row-<i>-`; `POST /echo` echoes its body."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/rows")
        async def rows(n: int, size: int = len(PAD)) -> dict[str, Any]:
            self.calls["rows"] += 1
            return {"rows": [{"id": i, "name": f"row-{i}-" + "p" * size} for i in range(n)]}

        @app.post("/echo")
        async def echo(request: Request) -> dict[str, Any]:
            self.calls["echo"] += 1
            return {"echo": await request.json()}

        return app


@pytest.fixture
def service() -> Iterator[tuple[Rows, str]]:
    rows = Rows()
    with serve(rows.app()) as url:
        yield rows, url


@pytest.fixture
def store(tmp_path: Path) -> FileBlobStore:
    return FileBlobStore(tmp_path / "blobs")


@pytest.fixture
async def real_worker(
    temporal_client: Client, task_queue: str, store: FileBlobStore
) -> AsyncIterator[Worker]:
    async with EgressClient(LOOPBACK_EGRESS) as client:
        http = HttpActivities(client, StaticSecretSource({}), store, threshold_bytes=THRESHOLD)
        async with stored_values_worker(
            temporal_client, task_queue, store, http.request, THRESHOLD,
            max_concurrent_activities=300,
        ) as worker:  # fmt: skip
            yield worker


def _document(base: str, rows: int, items: str, **config: Any) -> dict[str, Any]:
    fetch = {"id": "fetch", "type": "http", "config": {"url": f"{base}/rows?n={rows}"}}
    body = {
        "type": "http",
        "config": {"method": "POST", "url": f"{base}/echo", "json": {"id": "{{ item.id }}"}},
    }
    each = {"id": "each", "type": "foreach", "config": {"items": items, "node": body, **config}}
    return graph("stored-rows", [fetch, each], [edge("fetch", "each")])  # fmt: skip


def _raw(history: History | Any) -> bytes:
    """Every event's bytes as stored: payloads are plain JSON in them."""
    return b"".join(event.SerializeToString() for event in history.events)


def _activity_types(history: Any) -> Counter[str]:
    return Counter(
        event.activity_task_scheduled_event_attributes.activity_type.name
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    )


def _children(history: Any) -> list[str]:
    """The workflow ids of the child runs a run started."""
    return [
        event.start_child_workflow_execution_initiated_event_attributes.workflow_id
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
    ]


async def _outputs(store: FileBlobStore, output: Any) -> list[Any]:
    value = await load(store, TENANT, output) if contracts.is_blob_ref(output) else output
    return list(value)


async def test_a_foreach_over_a_stored_list_never_reads_it_into_the_parent(
    temporal_client: Client,
    task_queue: str,
    service: tuple[Rows, str],
    store: FileBlobStore,
    real_worker: Worker,
) -> None:
    rows, base = service
    count = 3000
    document = _document(base, count, "nodes.fetch.output.body.rows", batch_size=100,
                         concurrency=300)  # fmt: skip
    request = run_input(document, blob_threshold_bytes=THRESHOLD)
    handle = await start(temporal_client, task_queue, request)
    result = await handle.result()

    outputs = await _outputs(store, result.nodes["each"].output)
    assert [output["body"]["echo"]["id"] for output in outputs] == list(range(count))
    assert rows.calls == Counter({"rows": 1, "echo": count})

    listed = [{"id": i, "name": f"row-{i}-{PAD}"} for i in range(count)]
    list_bytes = len(encode(listed))
    history = await handle.fetch_history()
    parent = _raw(history)
    described = await handle.describe()
    parent_bytes = described.raw_description.workflow_execution_info.history_size_bytes
    print(f"stored list {list_bytes} bytes; parent history {parent_bytes} bytes, "
          f"{len(history.events)} events")  # fmt: skip
    assert b"row-0-" not in parent and b"row-2999-" not in parent
    assert parent_bytes < list_bytes // 5  # 30 child starts and their refs, no items
    assert _activity_types(history) == Counter({"node.http": 1, "node.pure": 2})

    assert len(_children(history)) == count // 100
    first = await temporal_client.get_workflow_handle(f"{handle.id}:each:batch-0").fetch_history()
    last = await temporal_client.get_workflow_handle(f"{handle.id}:each:batch-29").fetch_history()
    assert _activity_types(first)["blob.slice"] == 1
    assert b"row-0-" in _raw(first) and b"row-99-" in _raw(first)
    assert b"row-100-" not in _raw(first) and b"row-2999-" not in _raw(first)
    assert b"row-2900-" in _raw(last) and b"row-2899-" not in _raw(last)


async def test_a_short_stored_list_runs_in_one_batch_child(
    temporal_client: Client,
    task_queue: str,
    service: tuple[Rows, str],
    store: FileBlobStore,
    real_worker: Worker,
) -> None:
    """Five rows of 5 kB each: fewer than `batch_size`, but stored, so one child reads them
    and the parent still holds none."""
    _, base = service
    document = _document(base, 5, "nodes.fetch.output.body.rows", batch_size=200)
    document["nodes"][0]["config"]["url"] += "&size=5000"
    request = run_input(document, blob_threshold_bytes=THRESHOLD)
    handle = await start(temporal_client, task_queue, request)
    result = await handle.result()

    outputs = await _outputs(store, result.nodes["each"].output)
    assert [output["body"]["echo"]["id"] for output in outputs] == list(range(5))
    history = await handle.fetch_history()
    assert b"row-0-" not in _raw(history)
    assert _children(history) == [f"{handle.id}:each:batch-0"]


async def test_a_small_list_over_stored_values_runs_in_the_parent(
    temporal_client: Client,
    task_queue: str,
    service: tuple[Rows, str],
    store: FileBlobStore,
    real_worker: Worker,
) -> None:
    """Items under the threshold come back from `node.pure` as they are: no child run."""
    _, base = service
    document = _document(base, 100, "nodes.fetch.output.body.rows[:3]")
    handle = await start(temporal_client, task_queue, run_input(document))
    result = await handle.result()

    assert contracts.is_blob_ref(result.nodes["fetch"].output)
    outputs = await _outputs(store, result.nodes["each"].output)
    assert [output["body"]["echo"]["id"] for output in outputs] == [0, 1, 2]
    assert _children(await handle.fetch_history()) == []


async def test_items_over_stored_values_that_are_not_a_list_fail_the_node(
    temporal_client: Client,
    task_queue: str,
    service: tuple[Rows, str],
    real_worker: Worker,
) -> None:
    _, base = service
    document = _document(base, 100, "nodes.fetch.output.body")
    handle = await start(temporal_client, task_queue, run_input(document))
    with pytest.raises(WorkflowFailureError) as caught:
        await handle.result()
    error = caught.value.cause.details[0]["error"]  # type: ignore[union-attr]
    assert error == {
        "type": "ExpressionError",
        "message": "config.items: gave dict, not a list",
        "details": None,
    }


async def _batch_run(
    client: Client, task_queue: str, tenant: str, stored: dict[str, Any], offset: int, size: int
) -> ApplicationError:
    """Runs one batch of a foreach as its parent would start it, over `stored`; returns how
    it failed."""
    body = {"type": "http", "config": {"url": "http://127.0.0.1:9/echo", "json": "{{ item }}"}}
    document = graph("batch", [{"id": "each", "type": "foreach",
                                "config": {"items": "[]", "node": body}}], [])  # fmt: skip
    plan = compile_graph(document)
    request = run_input(document).model_copy(
        update={
            "tenant": tenant,
            "batch": ForeachBatch(
                node=plan.nodes["each"], stored=stored, offset=offset, size=size, scope={},
                execution_id=f"{tenant}:batch:{uuid.uuid4().hex[:8]}",
            ),
        }
    )  # fmt: skip
    handle = await start(client, task_queue, request, attributes=False)
    with pytest.raises(WorkflowFailureError) as caught:
        await handle.result()
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def test_a_batch_cannot_read_another_tenants_list(
    temporal_client: Client, task_queue: str, store: FileBlobStore, real_worker: Worker
) -> None:
    stored = await offload(store, TENANT, [f"secret-{i}" for i in range(500)], threshold=1024)
    assert contracts.is_blob_ref(stored)
    failure = await _batch_run(temporal_client, task_queue, "intruder", stored, 0, 10)
    assert failure.type == "BlobNotFound" and failure.non_retryable
    assert "is not available to this run" in failure.message


@pytest.mark.parametrize(
    ("offset", "size", "kind"),
    [(490, 20, "BlobSliceInvalid"), (0, 0, "BlobSliceInvalid"), (0, 5, "BlobRefInvalid"),
     (0, 5, "not-a-list")],
)  # fmt: skip
async def test_a_bad_part_or_ref_fails_the_batch_for_good(
    temporal_client: Client,
    task_queue: str,
    store: FileBlobStore,
    real_worker: Worker,
    offset: int,
    size: int,
    kind: str,
) -> None:
    stored = await offload(store, TENANT, [f"item-{i}" for i in range(500)], threshold=1024)
    if kind == "BlobRefInvalid":
        stored = {**stored, contracts.BLOB_KEY: "../" + stored[contracts.BLOB_KEY]}
    if kind == "not-a-list":
        stored = await offload(store, TENANT, {"rows": "x" * 5000}, threshold=1024)
        kind = "BlobSliceInvalid"
    failure = await _batch_run(temporal_client, task_queue, TENANT, stored, offset, size)
    assert failure.type == kind and failure.non_retryable, failure.message
