"""Traces, logs and metrics of real runs: the API served over HTTP, a worker with the
production activity runtime, the Temporal dev server and a service on loopback.

One fan-out graph that sends a secret and one graph that fails run through the API
once per database; the tests then read what that left: the spans (in memory), the
worker's log lines (JSON) and both processes' /metrics.
"""

from __future__ import annotations

import io
import json
import logging
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import WorkflowFailureError

from auterity import logs, telemetry, temporal
from auterity.graph.contracts import HTTP_ACTIVITY
from auterity.graph.run import WORKFLOW_NAME
from auterity.settings import Settings
from tests.factories import auth_headers, make_member, save_graph, wait_for_execution
from tests.operations.monitoring.sources import metrics_table
from tests.support import free_port, serve

SECRET = f"tok-{uuid.uuid4().hex}"
NOT_IN_THESE_RUNS = {
    # recorded by model calls, which these runs make none of (tests/workers/test_gateway.py
    # scrapes them after real ones)
    "auterity_llm_tokens_total",
    "auterity_llm_cost_usd",
}
WORKER_ONLY_ON_EVENT = {
    # the worker counts it when audit retention finds a broken chain (scraped in
    # tests/api/test_audit.py); the API's side of the same row is scraped below
    "auterity_audit_verification_failures_total",
    # the SDK's failure counters: a healthy run makes no failed call to Temporal and no
    # workflow task fails (activity failures, which the run has, are checked)
    "temporal_request_failure",
    "temporal_workflow_task_execution_failed",
}


def fan_out(base: str) -> dict[str, Any]:
    """start → (a, b: http, with the secret) → done."""

    def call(node_id: str) -> dict[str, Any]:
        return {
            "id": node_id,
            "type": "http",
            "config": {
                "method": "POST",
                "url": f"{base}/flaky/{uuid.uuid4().hex}",  # fresh: 503 on the first try
                "headers": {"Authorization": "Bearer {{ secrets.vendor_token }}"},
                "json": {"from": "{{ nodes.start.output }}"},
            },
            "retry": {"initial_interval": "100ms", "maximum_attempts": 3},
        }

    return {
        "name": "fan-out",
        "nodes": [
            {"id": "start", "type": "transform", "config": {"value": "go"}},
            call("a"),
            call("b"),
            {
                "id": "done",
                "type": "transform",
                "config": {"expression": "[nodes.a.output.status, nodes.b.output.status]"},
            },
        ],
        "edges": [
            {"from": "start", "to": "a"},
            {"from": "start", "to": "b"},
            {"from": "a", "to": "done"},
            {"from": "b", "to": "done"},
        ],
    }


def failing(base: str) -> dict[str, Any]:
    return {
        "name": "fails",
        "nodes": [{"id": "gone", "type": "http", "config": {"url": f"{base}/missing"}}],
    }


@dataclass
class Service:
    """Answers 503 echoing the request's headers once per path (the activity retries),
    then 200; /missing is a 404."""

    seen: Counter[str] = field(default_factory=Counter)
    traceparents: list[str] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/flaky/{name}")
        async def flaky(name: str, request: Request) -> JSONResponse:
            self.seen[name] += 1
            self.traceparents.append(request.headers.get("traceparent", ""))
            if self.seen[name] == 1:
                return JSONResponse({"busy": dict(request.headers)}, status_code=503)
            return JSONResponse({"ok": name})

        @app.get("/missing")
        async def missing() -> JSONResponse:
            return JSONResponse({"error": "no"}, status_code=404)

        return app


@dataclass
class Observed:
    spans: list[ReadableSpan]
    log_text: str
    api_metrics: str
    worker_metrics: str
    tenant: str
    graph_id: str
    version_id: str
    execution_id: str
    failed_execution_id: str
    service: Service


@pytest.fixture(scope="module")
def service() -> Iterator[tuple[Service, str]]:
    recorder = Service()
    with serve(recorder.app()) as url:
        yield recorder, url


@pytest.fixture(scope="module")
async def observed(
    settings: Settings, sessions: sessionmaker[Session], service: tuple[Service, str]
) -> AsyncIterator[Observed]:
    from api.main import create_app
    from workers.activities import ActivityRuntime
    from workers.main import build_worker

    recorder, base = service
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    settings = settings.model_copy(update={"task_queue": f"telemetry-{uuid.uuid4()}"})
    captured = io.StringIO()
    handler = logs.handler("json", captured)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    metrics_port = free_port()
    try:
        with telemetry.use_tracer_provider(provider):
            client = await temporal.connect(
                settings, runtime=temporal.metrics_runtime(metrics_port, "127.0.0.1")
            )
            app = create_app(settings)
            async with ActivityRuntime(settings) as runtime:
                worker = build_worker(client, settings, runtime.activities())
                async with worker:
                    with serve(app) as url:
                        async with httpx.AsyncClient(base_url=url, timeout=30) as api:
                            member = make_member(sessions)
                            headers = await auth_headers(api, member)
                            created = await api.post(
                                "/v1/secrets",
                                json={
                                    "name": "vendor_token",
                                    "value": SECRET,
                                    "allowed_hosts": ["127.0.0.1"],
                                },
                                headers=headers,
                            )
                            assert created.status_code == 201, created.text
                            graph_id = await save_graph(api, headers, fan_out(base))
                            started = await api.post(
                                f"/v1/graphs/{graph_id}/executions", json={}, headers=headers
                            )
                            assert started.status_code in (200, 201, 202), started.text
                            execution_id = started.json()["id"]
                            run = await wait_for_execution(api, headers, execution_id)
                            assert run["status"] == "completed", run
                            failing_id = await save_graph(api, headers, failing(base))
                            failed = await api.post(
                                f"/v1/graphs/{failing_id}/executions", json={}, headers=headers
                            )
                            failed_id = failed.json()["id"]
                            run = await wait_for_execution(api, headers, failed_id)
                            assert run["status"] == "failed", run
                            # security events, as an attacker would cause them
                            refused = await api.post(
                                "/v1/auth/login",
                                json={"email": member.email, "password": "wrong-password"},
                            )
                            assert refused.status_code == 401
                            bogus = {"Authorization": "Bearer not-a-token"}
                            assert (await api.get("/v1/me", headers=bogus)).status_code == 401
                            api_metrics = (await api.get("/metrics")).text
                            versions = await api.get(
                                f"/v1/graphs/{graph_id}/versions", headers=headers
                            )
                            version_id = versions.json()[0]["version_id"]
                async with httpx.AsyncClient() as scraper:
                    worker_metrics = (
                        await scraper.get(f"http://127.0.0.1:{metrics_port}/metrics")
                    ).text
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    yield Observed(
        spans=list(exporter.get_finished_spans()),
        log_text=captured.getvalue(),
        api_metrics=api_metrics,
        worker_metrics=worker_metrics,
        tenant=member.tenant_slug,
        graph_id=graph_id,
        version_id=version_id,
        execution_id=execution_id,
        failed_execution_id=failed_id,
        service=recorder,
    )


# --- traces -------------------------------------------------------------------------------


def _parent(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> ReadableSpan | None:
    return by_id.get(span.parent.span_id) if span.parent else None


def _ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    names = []
    current = _parent(span, by_id)
    while current is not None:
        names.append(current.name)
        current = _parent(current, by_id)
    return names


def render_trace(spans: list[ReadableSpan]) -> str:
    """The trace as an indented tree of span names (printed with -s; the report shows it)."""
    by_id = {span.context.span_id: span for span in spans}
    children: dict[int | None, list[ReadableSpan]] = {}
    for span in sorted(spans, key=lambda s: s.start_time or 0):
        parent = span.parent.span_id if span.parent and span.parent.span_id in by_id else None
        children.setdefault(parent, []).append(span)
    lines: list[str] = []

    def walk(parent: int | None, depth: int) -> None:
        for span in children.get(parent, []):
            node = span.attributes.get("auterity.node_id") if span.attributes else None
            lines.append("  " * depth + span.name + (f"  [node {node}]" if node else ""))
            walk(span.context.span_id, depth + 1)

    walk(None, 0)
    return "\n".join(lines)


async def test_one_trace_runs_from_the_request_to_every_activity(observed: Observed) -> None:
    spans = observed.spans
    by_id = {span.context.span_id: span for span in spans}
    request = next(
        span for span in spans if span.name == "POST /v1/graphs/{graph_id}/executions"
        and span.attributes and span.attributes.get("auterity.tenant") == observed.tenant
        and _start_of(span, spans, observed.execution_id)
    )  # fmt: skip
    trace_id = request.context.trace_id
    in_trace = [span for span in spans if span.context.trace_id == trace_id]
    print("\n" + render_trace(in_trace))

    start = next(span for span in in_trace if span.name == f"StartWorkflow:{WORKFLOW_NAME}")
    assert _parent(start, by_id) is request
    assert start.attributes is not None
    assert start.attributes["auterity.tenant"] == observed.tenant
    assert start.attributes["auterity.graph"] == observed.graph_id
    assert start.attributes["auterity.version"] == observed.version_id
    assert start.attributes["auterity.execution_id"] == observed.execution_id

    run = next(span for span in in_trace if span.name == f"RunWorkflow:{WORKFLOW_NAME}")
    assert _parent(run, by_id) is start
    scheduled = [span for span in in_trace if span.name == f"StartActivity:{HTTP_ACTIVITY}"]
    for workflow_span in [run, *scheduled]:  # made inside the workflow, from its attributes
        attributes = workflow_span.attributes or {}
        assert attributes["auterity.tenant"] == observed.tenant, workflow_span.name
        assert attributes["auterity.graph"] == observed.graph_id
        assert attributes["auterity.version"] == observed.version_id
        assert attributes["auterity.trigger"] == "api"

    ran = [span for span in in_trace if span.name == f"RunActivity:{HTTP_ACTIVITY}"]
    # Temporal's interceptor ends RunWorkflow at once (a long span is not replay-safe):
    # the workflow's activities hang from the context the run was started with
    assert all(_parent(span, by_id) is start for span in scheduled)
    assert len(scheduled) == 2  # the fan-out: one per http node
    assert len(ran) == 4  # each node answered 503 once, then 200
    nodes = Counter()
    for activity in ran:
        assert _parent(activity, by_id) in scheduled
        attributes = activity.attributes or {}
        assert attributes["auterity.tenant"] == observed.tenant
        assert attributes["auterity.graph"] == observed.graph_id
        assert attributes["auterity.version"] == observed.version_id
        assert attributes["auterity.execution_id"] == observed.execution_id
        assert attributes["auterity.kind"] == "http"
        nodes[attributes["auterity.node_id"]] += 1
        inside = [span.name for span in in_trace if _parent(span, by_id) is activity]
        assert inside.count("POST") == 1, inside  # the request the node sent
    assert nodes == Counter({"a": 2, "b": 2})
    # the trace context reached the service the nodes called, on each of the 4 requests
    sent = observed.service.traceparents
    assert sum(f"-{trace_id:032x}-" in header for header in sent) == 4, sent

    statements = [span for span in in_trace if "db.system" in (span.attributes or {})]
    assert any(request.name in _ancestors(span, by_id) for span in statements)  # the API's
    assert any(ran[0].name in _ancestors(span, by_id) for span in statements)  # the secret's


def _start_of(span: ReadableSpan, spans: list[ReadableSpan], execution_id: str) -> bool:
    return any(
        other.name == f"StartWorkflow:{WORKFLOW_NAME}"
        and other.parent is not None
        and other.parent.span_id == span.context.span_id
        and (other.attributes or {}).get("auterity.execution_id") == execution_id
        for other in spans
    )


# --- logs ---------------------------------------------------------------------------------


async def test_worker_logs_are_json_with_context_and_never_the_secret(observed: Observed) -> None:
    assert observed.log_text, "nothing was logged"
    assert SECRET not in observed.log_text
    lines = [json.loads(line) for line in observed.log_text.splitlines() if line.strip()]
    for line in lines:
        assert {"time", "level", "logger", "message"} <= line.keys(), line
    activity_lines = [line for line in lines if line.get("execution_id") == observed.execution_id]
    assert activity_lines, "no line carries the execution id"
    answered = [line for line in activity_lines if "answered" in line["message"]]
    assert {line["node_id"] for line in answered} == {"a", "b"}
    for line in answered:
        assert line["tenant"] == observed.tenant
        assert re.fullmatch(r"[0-9a-f]{32}", line["trace_id"]), line
        assert re.fullmatch(r"[0-9a-f]{16}", line["span_id"]), line
    request = next(
        span for span in observed.spans
        if _start_of(span, observed.spans, observed.execution_id)
    )  # fmt: skip
    assert {line["trace_id"] for line in answered} == {format(request.context.trace_id, "032x")}


def test_secret_values_are_masked_in_messages_and_tracebacks() -> None:
    captured = io.StringIO()
    logger = logging.getLogger("tests.telemetry.masking")
    handler = logs.handler("json", captured)
    logger.addHandler(handler)
    logger.propagate = False
    try:

        async def _inside_an_activity() -> None:
            logs.mask_in_logs(["hunter2-secret"])
            with logs.context(tenant="acme", execution_id="acme:g:1", node_id="call"):
                try:
                    raise ValueError("refused hunter2-secret")
                except ValueError:
                    logger.exception("sent %s to %s", "hunter2-secret", "/x?token=abc")

        import asyncio

        asyncio.run(_inside_an_activity())
        logger.warning("after the task: hunter2-secret")  # outside its context: not masked
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in captured.getvalue().splitlines())
    assert "hunter2" not in json.dumps(first)
    assert "abc" not in first["message"]
    assert first["tenant"] == "acme" and first["node_id"] == "call"
    assert "ValueError" in first["exception"]
    assert "hunter2-secret" in second["message"] and "tenant" not in second


# --- metrics ------------------------------------------------------------------------------

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})?\s", re.MULTILINE)
_DECLARED = re.compile(r"^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) ", re.MULTILINE)


def exported_names(text: str) -> set[str]:
    names = set(_DECLARED.findall(text))
    for sample in _SAMPLE.findall(text):
        names.add(sample)
        for suffix in ("_bucket", "_sum", "_count"):
            names.add(sample.removesuffix(suffix))
    return names


def rows_of(process: str) -> set[str]:
    return {
        name
        for name, metric in metrics_table().items()
        if process in metric.exported_by and name not in NOT_IN_THESE_RUNS
    }


async def test_the_api_exports_its_rows_of_metrics_md(observed: Observed) -> None:
    print("\napi:", " ".join(sorted(n for n in exported_names(observed.api_metrics)
                                    if n.startswith("auterity_"))))  # fmt: skip
    missing = rows_of("api") - exported_names(observed.api_metrics)
    assert not missing, missing
    text = observed.api_metrics
    assert re.search(
        r'^auterity_login_failures_total\{method="password",reason="bad_credentials"\} [1-9]',
        text, re.MULTILINE,
    ), "the wrong password was not counted"  # fmt: skip
    assert re.search(
        r'^auterity_tokens_refused_total\{kind="access",reason="invalid"\} [1-9]', text, re.M
    ), "the bogus token was not counted"
    assert f'auterity_human_tasks_pending{{tenant="{observed.tenant}"}} 0.0' in text


async def test_the_worker_exports_its_rows_of_metrics_md(observed: Observed) -> None:
    text = observed.worker_metrics
    print("\nworker:", " ".join(sorted(exported_names(text) & (rows_of("worker") | {
        n for n in exported_names(text) if n.startswith("auterity_")}))))  # fmt: skip
    missing = rows_of("worker") - WORKER_ONLY_ON_EVENT - exported_names(text)
    assert not missing, missing
    labels = f'graph="{observed.graph_id}"'
    started = [
        line for line in text.splitlines()
        if line.startswith("auterity_executions_started_total{") and labels in line
    ]  # fmt: skip
    assert len(started) == 1 and 'trigger="api"' in started[0], started
    assert started[0].endswith(" 1"), started
    completed = [
        line for line in text.splitlines()
        if line.startswith("auterity_executions_completed_total{") and labels in line
    ]  # fmt: skip
    assert completed and completed[0].endswith(" 1"), completed
    assert any(
        line.startswith("auterity_executions_failed_total{") and f'tenant="{observed.tenant}"'
        in line for line in text.splitlines()
    )  # fmt: skip
    buckets = re.findall(
        r'^auterity_node_duration_seconds_bucket\{[^}]*kind="http"[^}]*le="([^"]+)"', text, re.M
    )
    assert "604800" in buckets, "the node-duration buckets are not the seconds of METRICS.md"


def test_traces_are_off_unless_an_exporter_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from auterity.errors import ConfigError

    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    assert telemetry.configure_from_environment("auterity-test") is None
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert telemetry.configure_from_environment("auterity-test") is None
    # no spans; log lines still get the run's context from each activity's input
    assert [type(each) for each in telemetry.client_interceptors()] == [telemetry.RunContext]
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    with pytest.raises(ConfigError, match="OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' is not supported"):
        telemetry.configure_from_environment("auterity-test")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    with pytest.raises(ConfigError, match="OTEL_TRACES_EXPORTER: 'zipkin' is not one of"):
        telemetry.configure_from_environment("auterity-test")


async def test_log_lines_carry_the_run_with_tracing_off(
    settings: Settings, service: tuple[Service, str], database_engine_name: str
) -> None:
    from api.services.executions import start_execution
    from auterity.graph.compiler import compile_graph
    from auterity.graph.run import GraphRunInput
    from workers.activities import ActivityRuntime
    from workers.main import build_worker

    if database_engine_name != "sqlite":
        pytest.skip("one engine is enough: no database on this path")
    _, base = service
    settings = settings.model_copy(update={"task_queue": f"untraced-{uuid.uuid4()}"})
    plan = compile_graph(failing(base))
    run = GraphRunInput(tenant="quiet", graph_id="g", version_id=plan.version_id, plan=plan)
    captured = io.StringIO()
    handler = logs.handler("json", captured)
    logger = logging.getLogger("auterity.activities")
    logger.addHandler(handler)
    level, logger.level = logger.level, logging.INFO
    try:
        client = await temporal.connect(settings)  # tracing off: no provider in use
        async with ActivityRuntime(settings) as runtime:  # noqa: SIM117 - the worker needs it
            async with build_worker(client, settings, runtime.activities()):
                started = await start_execution(client, settings.task_queue, run)
                handle = client.get_workflow_handle(started.execution_id)
                with pytest.raises(WorkflowFailureError):
                    await handle.result()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    [line] = [json.loads(text) for text in captured.getvalue().splitlines()]
    assert line["execution_id"] == started.execution_id
    assert line["node_id"] == "gone" and line["tenant"] == "quiet"
    assert "trace_id" not in line
