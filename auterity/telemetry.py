"""Traces: one per run, from the API request through the workflow to every activity.

Off by default. `OTEL_TRACES_EXPORTER=otlp` (or `console`) turns them on; the OTLP
exporter reads the standard variables itself (`OTEL_EXPORTER_OTLP_ENDPOINT`,
`OTEL_EXPORTER_OTLP_HEADERS`, …) and the resource takes `OTEL_SERVICE_NAME` and
`OTEL_RESOURCE_ATTRIBUTES`. The API and the worker call `configure_from_environment`
once, in the composition root (`auterity.cli`); tests call `use_tracer_provider`
with a provider of their own.

What gets spans, once tracing is on:
- the API: a server span per request (FastAPI instrumentation), tagged with the
  caller's tenant;
- Temporal: `StartWorkflow` in the API's client, `RunWorkflow`, `StartActivity` and
  `RunActivity` in the worker (Temporal's `TracingInterceptor`), the workflow and
  activity spans tagged with tenant, graph, version, node and kind (`RunContext`);
- outbound HTTP inside activities (the egress client's httpx) and every SQL
  statement of the API's and the worker's engines.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)
from sqlalchemy.engine import Engine
from temporalio import activity, workflow
from temporalio.client import (
    Interceptor as ClientInterceptor,
)
from temporalio.client import (
    OutboundInterceptor,
    StartWorkflowInput,
    WorkflowHandle,
)
from temporalio.common import TypedSearchAttributes
from temporalio.contrib.opentelemetry import (
    TracingInterceptor,
    TracingWorkflowInboundInterceptor,
)
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    WorkflowInterceptorClassInput,
)
from temporalio.worker import (
    Interceptor as WorkerInterceptor,
)

from auterity import logs
from auterity.errors import ConfigError
from auterity.graph import naming

TRACER_NAME = "auterity"
ATTRIBUTE_PREFIX = "auterity."
EXPORTERS = ("none", "otlp", "console")

_provider: TracerProvider | None = None


def configure_from_environment(service_name: str) -> TracerProvider | None:
    """The tracer provider `OTEL_TRACES_EXPORTER` asks for, made global; None when off."""
    choice = os.environ.get("OTEL_TRACES_EXPORTER", "none").strip().lower() or "none"
    if choice not in EXPORTERS:
        raise ConfigError(f"OTEL_TRACES_EXPORTER: {choice!r} is not one of {', '.join(EXPORTERS)}")
    if choice == "none":
        return None
    exporter: SpanExporter
    for variable in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        protocol = os.environ.get(variable, "").strip()
        if choice == "otlp" and protocol and protocol != "http/protobuf":
            raise ConfigError(
                f"{variable}: {protocol!r} is not supported; traces go over OTLP/HTTP "
                "(http/protobuf, the collector's port 4318)"
            )
    if choice == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    else:
        exporter = ConsoleSpanExporter()
    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": service_name}
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    global _provider
    _provider = provider
    return provider


@contextmanager
def use_tracer_provider(provider: TracerProvider) -> Iterator[TracerProvider]:
    """Trace what is built inside the block with `provider` (tests; not made global)."""
    global _provider
    previous, _provider = _provider, provider
    try:
        yield provider
    finally:
        _provider = previous


def shutdown() -> None:
    """Exports the spans still buffered (before a process ends without finalizing)."""
    if _provider is not None:
        _provider.shutdown()


def client_interceptors() -> list[ClientInterceptor]:
    """Interceptors for a Temporal client, which also apply to workers built on it: the run's
    context for log lines always, and spans when tracing is on."""
    if _provider is None:
        return [RunContext()]
    tracer = _provider.get_tracer(TRACER_NAME)
    return [_RunTracing(tracer), RunContext()]


def instrument_app(app: Any) -> None:
    """Server spans for every request the FastAPI `app` answers."""
    if _provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=_provider, excluded_urls="healthz,readyz,metrics"
    )


def instrument_engine(engine: Engine) -> None:
    """A span per SQL statement run on `engine`."""
    if _provider is None:
        return
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import NoOpMeterProvider

    # EngineTracer, not SQLAlchemyInstrumentor: the instrumentor patches SQLAlchemy for the
    # whole process once, and ignores every engine after the first
    connections = NoOpMeterProvider().get_meter(TRACER_NAME).create_up_down_counter("unused")
    EngineTracer(_provider.get_tracer("opentelemetry.instrumentation.sqlalchemy"), engine,
                 connections)  # fmt: skip


def instrument_http_client(client: httpx.AsyncClient) -> None:
    """A client span per request `client` sends, with the trace context in its headers."""
    if _provider is None:
        return
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor.instrument_client(client, tracer_provider=_provider)


def tag_current_span(attributes: Mapping[str, str | None]) -> None:
    """Adds `auterity.<name>` attributes to the span in progress (none: nothing happens)."""
    span = trace.get_current_span()
    if not span.is_recording():
        return
    for name, value in attributes.items():
        if value is not None:
            span.set_attribute(ATTRIBUTE_PREFIX + name, value)


# --- Temporal: what a run is about, on its spans and in its logs ------------------------


class RunContext(ClientInterceptor, WorkerInterceptor):
    """Tags the `StartWorkflow` span with the run's tenant, graph, version and trigger
    (its search attributes), and each activity's span and log lines with the tenant,
    execution, graph, version, node and kind of its input.

    Listed after Temporal's `TracingInterceptor`, so the span in progress is its span."""

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _TagStartedRun(next)

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _TagActivity(next)


_RUN_ATTRIBUTES = {
    naming.TENANT: "tenant",
    naming.GRAPH: "graph",
    naming.GRAPH_VERSION: "version",
    naming.TRIGGER: "trigger",
}


class _RunTracing(TracingInterceptor):
    """Temporal's interceptor, whose workflow spans also name the run's tenant, graph,
    version and trigger."""

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[TracingWorkflowInboundInterceptor]:
        super().workflow_interceptor_class(input)
        return _TaggedWorkflowSpans


class _TaggedWorkflowSpans(TracingWorkflowInboundInterceptor):
    """Runs inside the workflow sandbox: reads only the run's search attributes."""

    def _completed_span(
        self, span_name: str, *, additional_attributes: Any = None, **kwargs: Any
    ) -> None:
        attributes = dict(additional_attributes or {})
        found = workflow.info().typed_search_attributes
        for key, name in _RUN_ATTRIBUTES.items():
            value = found.get(key)
            if value:
                attributes[ATTRIBUTE_PREFIX + name] = value
        super()._completed_span(span_name, additional_attributes=attributes, **kwargs)


class _TagStartedRun(OutboundInterceptor):
    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        attributes: dict[str, str | None] = {"execution_id": input.id}
        if isinstance(input.search_attributes, TypedSearchAttributes):
            for key, name in _RUN_ATTRIBUTES.items():
                attributes[name] = input.search_attributes.get(key)
        tag_current_span(attributes)
        return await super().start_workflow(input)


class _TagActivity(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        request = input.args[0] if input.args else None
        fields = {
            "tenant": getattr(request, "tenant", None),
            "execution_id": getattr(request, "execution_id", None) or info.workflow_id,
            "graph": getattr(request, "graph_id", None),
            "version": getattr(request, "version_id", None),
            "node_id": getattr(request, "node_id", None),
            "kind": getattr(request, "kind", None),
        }
        tag_current_span(fields)
        with logs.context(
            tenant=fields["tenant"], execution_id=fields["execution_id"], node_id=fields["node_id"]
        ):
            return await super().execute_activity(input)
