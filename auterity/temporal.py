"""The one Temporal client factory the API and the worker share."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import TLSConfig

from auterity import telemetry
from auterity.errors import ConfigError, DependencyUnavailable
from auterity.gateway.metrics import COST_BUCKETS_USD, COST_METRIC
from auterity.graph.naming import SEARCH_ATTRIBUTES
from auterity.settings import Settings


def tls_config(settings: Settings) -> TLSConfig | bool:
    if not (settings.temporal_tls or settings.temporal_tls_cert or settings.temporal_api_key):
        return False
    try:
        return TLSConfig(
            server_root_ca_cert=_read(settings.temporal_tls_ca, "AUTERITY_TEMPORAL_TLS_CA"),
            client_cert=_read(settings.temporal_tls_cert, "AUTERITY_TEMPORAL_TLS_CERT"),
            client_private_key=_read(settings.temporal_tls_key, "AUTERITY_TEMPORAL_TLS_KEY"),
        )
    except OSError as exc:
        raise ConfigError(str(exc)) from None


def _read(path: object, setting: str) -> bytes | None:
    if path is None:
        return None
    try:
        with open(str(path), "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise OSError(f"{setting}: cannot read {path}: {exc.strerror}") from None


NODE_DURATION_BUCKETS = [
    0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800, 3600, 21600, 86400, 604800,
]  # fmt: skip
"""Seconds: waits and approvals last days (the runtime's default buckets are milliseconds)."""


def metrics_runtime(port: int, host: str = "0.0.0.0") -> Runtime:
    """A Temporal runtime exporting the SDK's metrics (task latencies, slots…) and the
    worker's own (`auterity_*` runs and node durations) for Prometheus."""
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(
                bind_address=f"{host}:{port}",
                histogram_bucket_overrides={
                    "auterity_node_duration_seconds": NODE_DURATION_BUCKETS,
                    COST_METRIC: COST_BUCKETS_USD,
                },
            )
        )
    )


async def connect(
    settings: Settings, *, timeout: float = 10.0, runtime: Runtime | None = None
) -> Client:
    """Connect with the project's namespace, TLS and pydantic data converter."""
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    try:
        return await Client.connect(
            settings.temporal_address,
            namespace=settings.temporal_namespace,
            api_key=api_key,
            tls=tls_config(settings),
            data_converter=pydantic_data_converter,
            connect_timeout=timedelta(seconds=timeout),
            runtime=runtime,
            interceptors=telemetry.client_interceptors(),
        )
    except RuntimeError as exc:
        raise DependencyUnavailable(
            f"Temporal at {settings.temporal_address} (AUTERITY_TEMPORAL_ADDRESS) "
            f"is unreachable: {str(exc).splitlines()[0]}"
        ) from None


async def check_temporal(client: Client) -> None:
    """Raise DependencyUnavailable unless the namespace answers."""
    try:
        await client.service_client.check_health(timeout=timedelta(seconds=3))
    except Exception as exc:  # noqa: BLE001 - any RPC failure means "unreachable"
        raise DependencyUnavailable(f"Temporal is unreachable: {exc}") from None


async def register_search_attributes(client: Client) -> list[str]:
    """Register the project's search attributes on the namespace; return those added."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import (
        AddSearchAttributesRequest,
        ListSearchAttributesRequest,
    )

    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    have = set(existing.custom_attributes)
    missing = [key.name for key in SEARCH_ATTRIBUTES if key.name not in have]
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=client.namespace,
                search_attributes={
                    name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for name in missing
                },
            )
        )
    return missing
