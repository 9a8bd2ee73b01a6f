"""The model gateway on a real worker: the llm activity built by `ActivityRuntime` reads the
tenant's routes and budgets from the database, settles each call under the run's real ids,
and exports tokens and cost on the worker's Prometheus port."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.client import Client, WorkflowFailureError
from temporalio.worker import Worker

from api.services.executions import start_execution
from auterity import temporal
from auterity.db import transaction
from auterity.dev import DEV_EGRESS_ALLOW
from auterity.gateway.routes import RouteConfig, to_nanos
from auterity.graph import contracts, naming
from auterity.graph.compiler import compile_graph
from auterity.graph.run import GraphRunInput, GraphRunResult
from auterity.models import Tenant
from auterity.models.gateway import LedgerEntry, ModelRoute
from auterity.settings import Settings, load_settings
from tests.activities.nodes import node_request
from tests.activities.probe_workflow import ActivityProbe, ProbeStep
from tests.servers import ChatServer
from tests.support import free_port
from workers.activities import ActivityRuntime
from workers.main import build_llm_worker, build_worker

pytestmark = pytest.mark.filterwarnings("ignore:.*`ReadOnly` qualifier:UserWarning")

PRICE = {"input_cost_per_token": 0.001, "output_cost_per_token": 0.002}


@pytest.fixture
def worker_settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        env="test",
        home=tmp_path,
        database_url=database_url,
        model_routes={"default": ["mock/echo"]},
        egress_allow=DEV_EGRESS_ALLOW.split(","),
        worker_preload_llm=True,  # these tests count attempts: none may time out on the import
    )


@pytest.fixture
async def runtime(worker_settings: Settings) -> AsyncIterator[ActivityRuntime]:
    async with ActivityRuntime(worker_settings) as runtime:
        yield runtime


def _tenant_with_route(
    sessions: sessionmaker[Session], base: str, model: str = "echo"
) -> tuple[str, str]:
    with transaction(sessions) as session:
        tenant = Tenant(slug=f"gw-{uuid.uuid4().hex[:10]}", name="Gateway Co")
        session.add(tenant)
    config = RouteConfig.model_validate(
        {"deployments": [{"model": f"openai/{model}", "api_base": base, **PRICE}]}
    )
    with transaction(sessions, tenant.id) as session:
        session.add(ModelRoute(name="fast", config=config.model_dump(mode="json")))
    return tenant.slug, tenant.id


async def test_calls_are_settled_under_the_run_and_counted_on_the_metrics_port(
    temporal_client: Client,
    temporal_address: str,
    runtime: ActivityRuntime,
    sessions: sessionmaker[Session],
    chat_server: ChatServer,
    task_queue: str,
) -> None:
    slug, tenant_id = _tenant_with_route(sessions, f"{chat_server.url}/v1")
    port = free_port()
    client = await Client.connect(
        temporal_address,
        namespace=temporal_client.namespace,
        data_converter=temporal_client.data_converter,
        runtime=temporal.metrics_runtime(port),
    )
    execution_id = f"{slug}:graph-1:{uuid.uuid4().hex[:8]}"
    steps = [
        ProbeStep(
            activity=contracts.LLM_ACTIVITY,
            argument=node_request(
                "llm",
                {"route": "fast", "prompt": "hello", "max_tokens": 5},
                tenant=slug,
                execution_id=execution_id,
                node_id=node,
            ).model_dump(mode="json"),
        )
        for node in ("first", "second")
    ]
    async with Worker(
        client, task_queue=task_queue, workflows=[ActivityProbe], activities=runtime.activities()
    ):
        handle = await client.start_workflow(
            ActivityProbe.run, steps, id=execution_id, task_queue=task_queue
        )
        results = await handle.result()
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text

    assert [r["output"]["cost"] for r in results] == pytest.approx([0.013, 0.013])
    with transaction(sessions, tenant_id) as session:
        entries = list(session.scalars(select(LedgerEntry).order_by(LedgerEntry.node_id)))
    assert [(e.node_id, e.status, e.attempt) for e in entries] == [
        ("first", "settled", 1),
        ("second", "settled", 1),
    ]
    assert {e.run_id for e in entries} == {handle.result_run_id}
    assert {e.workflow_id for e in entries} == {execution_id}

    labels = f'model="openai/echo",route="fast",tenant="{slug}"'
    prompt = _sample(metrics, "auterity_llm_tokens_total", labels + ',type="prompt"')
    completion = _sample(metrics, "auterity_llm_tokens_total", labels + ',type="completion"')
    assert (prompt, completion) == (14, 6)
    assert _sample(metrics, "auterity_llm_cost_usd_sum", labels) == pytest.approx(0.026)
    assert _sample(metrics, "auterity_llm_cost_usd_count", labels) == 2
    assert _sample(metrics, "auterity_llm_cost_usd_bucket", labels + ',le="0.1"') == 2


def _sample(metrics: str, name: str, labels: str) -> float:
    """The value of the series `name` whose labels include every one of `labels`."""
    wanted = set(labels.split(","))
    for line in metrics.splitlines():
        match = re.match(rf"^{name}\{{(.*)\}} (\S+)$", line)
        if match and wanted <= set(match.group(1).split(",")):
            return float(match.group(2))
    raise AssertionError(f"{name}{{{labels}}} not in:\n" + "\n".join(
        line for line in metrics.splitlines() if name in line
    ))  # fmt: skip


async def test_a_stalled_provider_fails_each_attempt_itself_before_temporals_timeout(
    temporal_client: Client,
    runtime: ActivityRuntime,
    worker_settings: Settings,
    sessions: sessionmaker[Session],
    chat_server: ChatServer,
    task_queue: str,
) -> None:
    """A run whose llm node (3 s timeout, 2 attempts) asks a provider that never answers:
    each attempt fails on its own with a retryable timeout error, Temporal retries it, the
    run fails naming the timeout, and every reservation went back."""
    tag = uuid.uuid4().hex
    slug, tenant_id = _tenant_with_route(sessions, f"{chat_server.url}/v1", f"stall:{tag}")
    retry = {"initial_interval": "100ms", "maximum_attempts": 2}
    graph = {"name": "stalled", "nodes": [
        {"id": "ask", "type": "llm", "timeout": "3s", "retry": retry,
         "config": {"route": "fast", "prompt": "anyone there?", "max_tokens": 5}}]}  # fmt: skip
    plan = compile_graph(graph)
    run = GraphRunInput(tenant=slug, graph_id="g", version_id=plan.version_id, plan=plan)
    try:
        async with build_worker(
            temporal_client, worker_settings, runtime.activities(), task_queue=task_queue
        ):
            started = await start_execution(temporal_client, task_queue, run)
            handle = temporal_client.get_workflow_handle(started.execution_id)
            with pytest.raises(WorkflowFailureError) as failed:
                await handle.result()
    finally:
        chat_server.release(tag)

    cause = str(failed.value.cause)
    assert "LlmProviderError" in cause and "timed out" in cause, cause
    assert chat_server.stalled[tag] == 2
    history = await handle.fetch_history()
    kinds = [event.event_type for event in history.events]
    assert kinds.count(EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED) == 1  # the last attempt's
    assert EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT not in kinds
    [failure] = [
        event.activity_task_failed_event_attributes.failure
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED
    ]
    assert failure.application_failure_info.type == "LlmProviderError"
    assert not failure.application_failure_info.non_retryable
    with transaction(sessions, tenant_id) as session:
        entries = list(session.scalars(select(LedgerEntry).order_by(LedgerEntry.attempt)))
    assert [(e.attempt, e.status, e.cost_nanos) for e in entries] == [
        (1, "released", None),
        (2, "released", None),
    ]


async def test_a_foreach_of_llm_calls_charges_every_item_in_and_out_of_batches(
    temporal_client: Client,
    runtime: ActivityRuntime,
    worker_settings: Settings,
    sessions: sessionmaker[Session],
    chat_server: ChatServer,
    task_queue: str,
) -> None:
    """Three items in batches of two: two child runs, three calls, three charges."""
    slug, tenant_id = _tenant_with_route(sessions, f"{chat_server.url}/v1")
    body = {"type": "llm", "config": {"route": "fast", "prompt": "{{ item }}", "max_tokens": 5}}
    graph = {"name": "each", "nodes": [{"id": "each", "type": "foreach", "config": {
        "items": "inputs.topics", "node": body, "batch_size": 2}}]}  # fmt: skip
    plan = compile_graph(graph)
    run = GraphRunInput(
        tenant=slug, graph_id="g", version_id=plan.version_id, plan=plan,
        inputs={"topics": ["tea", "coffee", "cocoa"]},
    )  # fmt: skip
    async with build_worker(
        temporal_client, worker_settings, runtime.activities(), task_queue=task_queue
    ):
        started = await start_execution(temporal_client, task_queue, run)
        result = await temporal_client.get_workflow_handle(
            started.execution_id, result_type=GraphRunResult
        ).result()

    assert [item["text"] for item in result.nodes["each"].output] == ["tea", "coffee", "cocoa"]
    with transaction(sessions, tenant_id) as session:
        entries = list(session.scalars(select(LedgerEntry).order_by(LedgerEntry.node_id)))
    assert [(e.node_id, e.status, e.cost_nanos) for e in entries] == [
        (f"each[{index}]", "settled", to_nanos(0.013)) for index in range(3)
    ]
    assert {e.workflow_id for e in entries} == {started.execution_id}
    assert len({e.run_id for e in entries}) == 2, "one child run per batch"


async def test_a_stream_that_stalls_mid_way_is_retried_on_its_heartbeat_timeout(
    temporal_client: Client,
    runtime: ActivityRuntime,
    worker_settings: Settings,
    sessions: sessionmaker[Session],
    chat_server: ChatServer,
    task_queue: str,
) -> None:
    """A streamed llm node (stall_timeout 2 s) whose provider sends one piece of the answer
    and then nothing: the missing heartbeats time the attempt out long before its 30 s
    timeout, the retry streams the whole answer, only that attempt is charged."""
    tag = uuid.uuid4().hex
    slug, tenant_id = _tenant_with_route(sessions, f"{chat_server.url}/v1", f"stallonce:{tag}")
    retry = {"initial_interval": "100ms", "maximum_attempts": 2}
    config = {"route": "fast", "prompt": "a streamed answer, in pieces", "max_tokens": 5,
              "stream": True, "stall_timeout": "2s"}  # fmt: skip
    graph = {"name": "streamed", "nodes": [
        {"id": "ask", "type": "llm", "timeout": "30s", "retry": retry, "config": config}]}  # fmt: skip
    plan = compile_graph(graph)
    run = GraphRunInput(tenant=slug, graph_id="g", version_id=plan.version_id, plan=plan)
    try:
        async with build_worker(
            temporal_client, worker_settings, runtime.activities(), task_queue=task_queue
        ):
            started = await start_execution(temporal_client, task_queue, run)
            handle = temporal_client.get_workflow_handle(
                started.execution_id, result_type=GraphRunResult
            )
            result = await handle.result()
            with transaction(sessions, tenant_id) as session:
                entries = list(session.scalars(select(LedgerEntry).order_by(LedgerEntry.attempt)))
    finally:
        chat_server.release(tag)

    output = result.nodes["ask"].output
    assert output["text"] == "a streamed answer, in pieces"
    assert result.nodes["ask"].attempts == 2
    assert output["usage"] == {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
    assert chat_server.stalled[tag] == 1
    history = await handle.fetch_history()
    [scheduled] = [
        event.activity_task_scheduled_event_attributes
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert scheduled.heartbeat_timeout.ToTimedelta().total_seconds() == 2
    [attempt] = [
        event.activity_task_started_event_attributes
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    ]
    assert attempt.attempt == 2
    assert (
        attempt.last_failure.timeout_failure_info.timeout_type == TimeoutType.TIMEOUT_TYPE_HEARTBEAT
    )
    # The stalled attempt's reservation went back when the retry reserved; the retry settled.
    assert [(e.attempt, e.status) for e in entries] == [(1, "expired"), (2, "settled")]
    assert entries[1].cost_nanos == to_nanos(7 * 0.001 + 3 * 0.002)


@pytest.mark.parametrize("split", [True, False], ids=["llm-task-queue", "one-task-queue"])
async def test_llm_nodes_run_on_the_llm_task_queue_when_the_run_names_one(
    temporal_client: Client,
    runtime: ActivityRuntime,
    worker_settings: Settings,
    sessions: sessionmaker[Session],
    chat_server: ChatServer,
    task_queue: str,
    split: bool,
) -> None:
    """With AUTERITY_LLM_TASK_QUEUE, a run's llm activities (foreach batches' included) are
    scheduled on that queue and run by the llm worker, which polls it alone; an llm node
    that runs as a local activity stays in the workflow's worker. Without it, every
    activity runs on the run's task queue, as before."""
    slug, tenant_id = _tenant_with_route(sessions, f"{chat_server.url}/v1")
    llm_queue = f"{task_queue}-llm" if split else ""
    settings = worker_settings.model_copy(update={"llm_task_queue": llm_queue})
    body = {"type": "llm", "config": {"route": "fast", "prompt": "{{ item }}", "max_tokens": 5}}
    graph = {"name": "split", "nodes": [
        {"id": "ask", "type": "llm", "config": {"route": "fast", "prompt": "hello"}},
        {"id": "near", "type": "llm", "execution": "local",
         "config": {"route": "fast", "prompt": "local"}},
        {"id": "each", "type": "foreach",
         "config": {"items": "inputs.topics", "node": body, "batch_size": 2}},
    ], "edges": [{"from": "ask", "to": "each"}]}  # fmt: skip
    plan = compile_graph(graph)
    run = GraphRunInput(
        tenant=slug, graph_id="g", version_id=plan.version_id, plan=plan,
        inputs={"topics": ["tea", "coffee", "cocoa"]}, llm_task_queue=llm_queue or None,
    )  # fmt: skip
    async with contextlib.AsyncExitStack() as workers:
        await workers.enter_async_context(
            build_worker(temporal_client, settings, runtime.activities(), task_queue=task_queue)
        )
        if split:
            await workers.enter_async_context(build_llm_worker(temporal_client, settings, runtime))
        started = await start_execution(temporal_client, task_queue, run)
        handle = temporal_client.get_workflow_handle(
            started.execution_id, result_type=GraphRunResult
        )
        result = await handle.result()

    assert result.nodes["ask"].output["text"] == "hello"
    assert result.nodes["near"].output["text"] == "local"
    assert [item["text"] for item in result.nodes["each"].output] == ["tea", "coffee", "cocoa"]
    runs = [started.execution_id] + [
        naming.foreach_batch_id(started.execution_id, "each", number) for number in (0, 1)
    ]
    scheduled = [
        event.activity_task_scheduled_event_attributes
        for workflow_id in runs
        for event in (await temporal_client.get_workflow_handle(workflow_id).fetch_history()).events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert sorted(s.activity_id for s in scheduled) == ["ask", "each[0]", "each[1]", "each[2]"]
    assert {s.task_queue.name for s in scheduled} == {llm_queue or task_queue}
    with transaction(sessions, tenant_id) as session:
        entries = list(session.scalars(select(LedgerEntry).order_by(LedgerEntry.node_id)))
    assert [(e.node_id, e.status) for e in entries] == [
        (node, "settled") for node in ("ask", "each[0]", "each[1]", "each[2]", "near")
    ]
