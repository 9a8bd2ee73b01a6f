"""The OpenTelemetry Collector: OTLP in, traces to Jaeger, metrics to Prometheus.

No collector binary can be installed here, so the configuration's wiring is
checked as data: every pipeline names defined components, every defined
component is used, and the ports agree with the compose file and prometheus.yml.
"""

from __future__ import annotations

import yaml

from tests.operations.monitoring.sources import MONITORING

CONFIG = yaml.safe_load((MONITORING / "otel-collector.yml").read_text())
KINDS = ("receivers", "processors", "exporters")


def test_pipelines_use_only_defined_components_and_every_one_is_used() -> None:
    pipelines = CONFIG["service"]["pipelines"]
    for kind in KINDS:
        used = {name for pipeline in pipelines.values() for name in pipeline.get(kind, [])}
        assert used <= set(CONFIG[kind]), kind
        assert set(CONFIG[kind]) <= used, f"{kind} defined but unused"
    assert set(CONFIG["service"]["extensions"]) == set(CONFIG["extensions"])


def test_otlp_in_on_the_standard_ports() -> None:
    protocols = CONFIG["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"].endswith(":4317")
    assert protocols["http"]["endpoint"].endswith(":4318")
    for pipeline in CONFIG["service"]["pipelines"].values():
        assert pipeline["receivers"] == ["otlp"]


def test_traces_go_to_jaeger_without_credentials() -> None:
    traces = CONFIG["service"]["pipelines"]["traces"]
    endpoints = [CONFIG["exporters"][name]["endpoint"] for name in traces["exporters"]]
    assert endpoints == ["jaeger:4317"]
    assert traces["processors"][0] == "memory_limiter"
    deleted = {
        action["key"]
        for name in traces["processors"]
        for action in CONFIG["processors"][name].get("actions", [])
        if action["action"] == "delete"
    }
    assert {"http.request.header.authorization", "http.request.header.cookie"} <= deleted


def test_metrics_go_to_the_port_prometheus_scrapes() -> None:
    (exporter,) = CONFIG["service"]["pipelines"]["metrics"]["exporters"]
    assert exporter == "prometheus"
    port = CONFIG["exporters"]["prometheus"]["endpoint"].rsplit(":", 1)[1]
    prometheus = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    (job,) = [job for job in prometheus["scrape_configs"] if job["job_name"] == "otel-collector"]
    assert job["static_configs"][0]["targets"] == [f"otel-collector:{port}"]
