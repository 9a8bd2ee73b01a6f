"""Running graphs on a real Temporal server with fake node activities."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from activities.blobs import BlobActivities, BlobStore
from activities.pure import PureActivities
from auterity.graph import contracts, naming
from auterity.graph.compiler import compile_graph
from auterity.graph.expressions import Budget, render_value
from auterity.graph.pure import compute
from auterity.graph.references import REGISTRY_PIN, PinInput, PinOutput
from auterity.graph.run import (
    WORKFLOW_NAME,
    GraphRunInput,
    GraphRunResult,
    RunState,
)
from workflows.graph_workflow import GraphWorkflow

TENANT = "acme"


@dataclass
class FakeNodes:
    """Stand-ins for the node activities, registered under the real names.

    The http fake renders its config like the real one and behaves by URL path:
    `/fail` fails for good, `/flaky` fails twice then succeeds, `/slow` sleeps
    (heartbeating, so it sees cancellation), `/blob` returns a blob ref to
    `{"big": [1, 2, 3]}`; anything else echoes the rendered config. `blob.put` keeps
    what the workflow offloads in `stored`, and refs to it resolve to it; `node.pure`
    stores outputs over its input's threshold (else `blob_threshold`) there too, as the
    real activity does, and `blob.slice` reads a part of a stored list.
    """

    calls: list[contracts.NodeActivityInput] = field(default_factory=list)
    attempts: Counter[str] = field(default_factory=Counter)
    cancelled: list[str] = field(default_factory=list)
    opened: list[contracts.OpenTaskInput] = field(default_factory=list)
    closed: list[contracts.CloseTaskInput] = field(default_factory=list)
    blobs_read: list[str] = field(default_factory=list)
    pure_calls: list[contracts.PureNodeInput] = field(default_factory=list)
    pinned: list[PinInput] = field(default_factory=list)
    stored: dict[str, Any] = field(default_factory=dict)
    blob_threshold: int = contracts.DEFAULT_BLOB_THRESHOLD_BYTES
    task_opened: asyncio.Event = field(default_factory=asyncio.Event)
    reject_tasks: bool = False

    @activity.defn(name=contracts.HTTP_ACTIVITY)
    async def http(self, request: contracts.NodeActivityInput) -> contracts.NodeActivityOutput:
        self.calls.append(request)
        info = activity.info()
        key = f"{request.node_id}:{request.scope.get('index', '')}"
        self.attempts[key] += 1
        config = render_value(request.config, request.scope)
        path = config["url"].split("://", 1)[-1].partition("/")[2]
        if path == "fail":
            raise ApplicationError("answered 404", type="HttpClientError", non_retryable=True)
        if path == "flaky" and info.attempt < 3:
            raise ApplicationError("answered 503", type="HttpServerError")
        if path == "slow":
            try:
                while True:
                    activity.heartbeat()
                    await asyncio.sleep(0.1)
            except asyncio.CancelledError:
                self.cancelled.append(request.node_id)
                raise
        if path == "blob":
            return contracts.NodeActivityOutput(
                output=contracts.blob_ref(f"{TENANT}/abc", 9, "abc")
            )
        output = {"url": config["url"], "json": config.get("json"), "attempt": info.attempt}
        return contracts.NodeActivityOutput(output=output, attempt=info.attempt)

    @activity.defn(name=contracts.LLM_ACTIVITY)
    async def llm(self, request: contracts.NodeActivityInput) -> contracts.NodeActivityOutput:
        self.calls.append(request)
        config = render_value(request.config, request.scope)
        return contracts.NodeActivityOutput(output={"text": config.get("prompt")})

    @activity.defn(name=REGISTRY_PIN)
    async def pin(self, request: PinInput) -> PinOutput:
        """Every registry reference names version 3, except those of entry `gone`."""
        self.pinned.append(request)
        gone = [r.reference for r in request.references if r.reference.startswith("gone@")]
        if gone:
            raise ApplicationError(
                f"unknown {gone[0]}", type="NodeConfigInvalid", non_retryable=True
            )
        return PinOutput(versions={r.key(): 3 for r in request.references})

    @activity.defn(name=contracts.TASK_OPEN)
    async def open_task(self, request: contracts.OpenTaskInput) -> contracts.OpenTaskOutput:
        if self.reject_tasks:
            raise ApplicationError("no such tenant", type="TenantNotFound", non_retryable=True)
        self.opened.append(request)
        self.task_opened.set()
        return contracts.OpenTaskOutput(task_id=request.task_id, created=True)

    @activity.defn(name=contracts.TASK_CLOSE)
    async def close_task(self, request: contracts.CloseTaskInput) -> None:
        self.closed.append(request)

    @activity.defn(name=contracts.BLOB_GET)
    async def get_blob(self, request: contracts.BlobGetInput) -> Any:
        self.blobs_read.append(request.ref[contracts.BLOB_KEY])
        return self.blob_value(request.ref)

    @activity.defn(name=contracts.BLOB_PUT)
    async def put_blob(self, request: contracts.BlobPutInput) -> dict[str, Any]:
        payload = json.dumps(request.value, separators=(",", ":")).encode()
        digest = hashlib.sha256(payload).hexdigest()
        key = f"{request.tenant}/{digest}"
        self.stored[key] = request.value
        return contracts.blob_ref(key, len(payload), digest)

    def blob_value(self, ref: dict[str, Any]) -> Any:
        """What a ref points at: a value `blob.put` stored, else `{"big": [1, 2, 3]}`."""
        return self.stored.get(ref[contracts.BLOB_KEY], {"big": [1, 2, 3]})

    @activity.defn(name=contracts.PURE_ACTIVITY)
    async def pure(self, request: contracts.PureNodeInput) -> contracts.PureNodeOutput:
        """Computes the node as the real activity does, over the blob `/blob` points at."""
        self.pure_calls.append(request)

        def resolved(value: Any) -> Any:
            if contracts.is_blob_ref(value):
                return self.blob_value(value)
            if isinstance(value, dict):
                return {key: resolved(item) for key, item in value.items()}
            if isinstance(value, list):
                return [resolved(item) for item in value]
            return value

        outcome = compute(request.kind, request.config, resolved(request.scope), Budget())
        output = outcome.output
        threshold = request.threshold_bytes or self.blob_threshold
        if len(json.dumps(output, separators=(",", ":"))) > threshold:
            output = await self.put_blob(
                contracts.BlobPutInput(tenant=request.tenant, value=output)
            )
        count = len(outcome.output) if request.kind == "items" else None
        return contracts.PureNodeOutput(output=output, label=outcome.label, count=count)

    @activity.defn(name=contracts.BLOB_SLICE)
    async def slice_blob(self, request: contracts.BlobSliceInput) -> list[Any]:
        self.blobs_read.append(request.ref[contracts.BLOB_KEY])
        items: list[Any] = self.blob_value(request.ref)
        return items[request.offset : request.offset + request.size]

    def activities(self) -> list[Any]:
        return [
            self.http, self.llm, self.open_task, self.close_task, self.get_blob, self.put_blob,
            self.slice_blob, self.pure, self.pin,
        ]  # fmt: skip

    def nodes_called(self) -> list[str]:
        return [call.node_id for call in self.calls]


@asynccontextmanager
async def stored_values_worker(
    client: Client,
    task_queue: str,
    store: BlobStore,
    http: Callable[..., Any],
    threshold: int,
    **options: Any,
) -> AsyncIterator[Worker]:
    """A GraphWorkflow worker with the real blob and `node.pure` activities over `store`
    (storing what passes `threshold`) beside the http activity given."""
    blobs = BlobActivities(store)
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[GraphWorkflow],
        activities=[
            http,
            blobs.get,
            blobs.put,
            blobs.slice,
            PureActivities(store, threshold).compute,
        ],  # fmt: skip
        **options,
    ) as worker:
        yield worker


@asynccontextmanager
async def graph_worker(client: Client, task_queue: str, nodes: FakeNodes) -> AsyncIterator[Worker]:
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[GraphWorkflow],
        activities=nodes.activities(),
        max_concurrent_activities=500,
    ) as worker:
        yield worker


def run_input(
    graph: dict[str, Any], inputs: dict[str, Any] | None = None, **fields: Any
) -> GraphRunInput:
    plan = compile_graph(graph)
    return GraphRunInput(
        tenant=TENANT,
        graph_id=graph["name"],
        version_id=plan.version_id,
        plan=plan,
        inputs=inputs or {},
        **fields,
    )


def search_attributes(request: GraphRunInput) -> TypedSearchAttributes:
    return TypedSearchAttributes(
        [
            SearchAttributePair(naming.TENANT, request.tenant),
            SearchAttributePair(naming.GRAPH, request.graph_id),
            SearchAttributePair(naming.GRAPH_VERSION, request.version_id),
            SearchAttributePair(naming.TRIGGER, request.trigger or "test"),
        ]
    )


async def start(
    client: Client, task_queue: str, request: GraphRunInput, *, attributes: bool = True
) -> WorkflowHandle[Any, GraphRunResult]:
    return await client.start_workflow(
        WORKFLOW_NAME,
        request,
        id=f"{request.tenant}:{request.graph_id}:{uuid.uuid4().hex[:12]}",
        task_queue=task_queue,
        result_type=GraphRunResult,
        search_attributes=search_attributes(request) if attributes else None,
    )


async def state_when(
    handle: WorkflowHandle[Any, Any], ready: Callable[[RunState], bool], seconds: float = 20
) -> RunState:
    """Polls the run's `state` query until `ready` holds (fails after `seconds`)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        state = await handle.query(GraphWorkflow.state)
        if ready(state):
            return state
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"the run never reached the expected state: {state}")
        await asyncio.sleep(0.05)


def http(node_id: str, path: str = "echo", **fields: Any) -> dict[str, Any]:
    config = fields.pop("config", {})
    return {
        "id": node_id,
        "type": "http",
        "config": {"url": f"https://svc.test/{path}", **config},
        **fields,
    }


def transform(node_id: str, value: Any, **fields: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "transform", "config": {"value": value}, **fields}


def edge(source: str, target: str, when: str | None = None) -> dict[str, Any]:
    return {"from": source, "to": target, **({"when": when} if when else {})}


def graph(
    name: str, nodes: list[dict[str, Any]], edges: list[dict[str, Any]], **fields: Any
) -> dict[str, Any]:
    return {"name": name, "nodes": nodes, "edges": edges, **fields}
