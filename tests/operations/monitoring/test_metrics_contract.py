"""monitoring/METRICS.md is the contract: dashboards and rules use only its names.

The code side of the contract (every row is exported) is checked where the code
lives; here: the table is sound, every metric the Python code defines today is
in it, every name a rule or a dashboard reads is in it, with labels it has, and
every row is read somewhere.
"""

from __future__ import annotations

import re

import pytest

from tests.operations.monitoring import promql
from tests.operations.monitoring.sources import (
    DashboardQuery,
    Metric,
    alert_rules,
    dashboard_queries,
    metric_of,
    metrics_table,
)
from tests.operations.tools import REPO

METRICS = metrics_table()
# Labels Prometheus adds to every scraped series, and those the Temporal runtime
# adds to every metric a worker exports through it.
TARGET_LABELS = {"job", "instance"}
TEMPORAL_RUNTIME_LABELS = {
    "namespace",
    "task_queue",
    "service_name",
    "workflow_type",
    "activity_type",
}
# Per-object or caller-chosen values: never a label (METRICS.md, "Bounded values only").
UNBOUNDED_LABELS = {
    "execution", "execution_id", "run_id", "workflow_id", "node", "node_id", "task_id",
    "user", "user_id", "email", "ip", "client_ip", "path", "url", "token",
}  # fmt: skip


def labels_of(series: str, metric: Metric) -> set[str]:
    labels = set(metric.labels) | TARGET_LABELS
    if "worker" in metric.exported_by:
        labels |= TEMPORAL_RUNTIME_LABELS
    if series.endswith("_bucket"):
        labels.add("le")
    return labels


def test_the_table_is_well_formed() -> None:
    assert len(METRICS) >= 20
    for metric in METRICS.values():
        assert metric.type in {"counter", "gauge", "histogram"}, metric
        assert metric.exported_by <= {"api", "worker", "prometheus"}, metric
        assert metric.meaning, metric
        assert all(re.fullmatch(r"[a-z_][a-z0-9_]*", label) for label in metric.labels), metric
        assert not metric.labels & UNBOUNDED_LABELS, f"{metric.name}: unbounded label"
        if metric.name.startswith("auterity_"):
            assert (metric.type == "counter") == metric.name.endswith("_total"), metric.name
        else:
            assert metric.name.startswith("temporal_") or "prometheus" in metric.exported_by


def test_issue_15_and_14_metrics_are_defined() -> None:
    wanted = {
        "auterity_executions_started_total": {"tenant", "graph"},
        "auterity_executions_completed_total": {"tenant", "graph"},
        "auterity_executions_failed_total": {"tenant", "graph"},
        "auterity_node_duration_seconds": {"kind"},
        "auterity_human_tasks_pending": set(),
        "auterity_login_failures_total": set(),
        "auterity_tokens_refused_total": set(),
        "auterity_sso_failures_total": set(),
        "auterity_audit_verification_failures_total": set(),
        "auterity_llm_tokens_total": {"tenant", "route", "model"},
        "auterity_llm_cost_usd": {"tenant", "route", "model"},
        "auterity_budget_spend_usd": set(),
        "auterity_budget_limit_usd": set(),
        "temporal_activity_schedule_to_start_latency": set(),
        "temporal_workflow_task_schedule_to_start_latency": set(),
    }
    for name, labels in wanted.items():
        assert name in METRICS, name
        assert labels <= METRICS[name].labels, name


DEFINITION = re.compile(r"\b(?:Counter|Gauge|Histogram|Summary)\(\s*[\"']([a-zA-Z_:][\w:]*)[\"']")


def test_every_metric_the_code_defines_is_listed() -> None:
    defined = {
        name
        for folder in ("api", "auterity", "workers", "activities", "workflows")
        for path in (REPO / folder).rglob("*.py")
        for name in DEFINITION.findall(path.read_text())
    }
    assert "auterity_http_requests_total" in defined  # the scan finds what exists today
    assert defined <= METRICS.keys(), f"add to monitoring/METRICS.md: {defined - METRICS.keys()}"


def check_query(expr: str) -> list[str]:
    """What is wrong with `expr` against the table (empty when nothing)."""
    query = promql.parse(expr)
    problems = []
    allowed_grouping: set[str] = set()
    for selector in query.selectors:
        metric = metric_of(selector.metric)
        if metric is None:
            problems.append(f"{selector.metric} is not in monitoring/METRICS.md")
            continue
        labels = labels_of(selector.metric, metric)
        allowed_grouping |= labels
        if unknown := selector.labels - labels:
            problems.append(f"{selector.metric} has no label {sorted(unknown)}")
    if query.selectors and not problems and (unknown := query.grouping - allowed_grouping):
        problems.append(f"groups by {sorted(unknown)}, which no metric here has")
    if not query.selectors:
        problems.append("reads no metric")
    return problems


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_alert_rules_read_only_listed_metrics(rule: dict[str, str]) -> None:
    assert check_query(rule["expr"]) == []


QUERIES = dashboard_queries()


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: f"{q.dashboard}:{q.where}")
def test_dashboards_read_only_listed_metrics(query: DashboardQuery) -> None:
    if query.variable:
        parsed, label = promql.parse_variable(query.expr)
        assert parsed.selectors, query
        for selector in parsed.selectors:
            metric = metric_of(selector.metric)
            assert metric is not None, f"{selector.metric} is not in monitoring/METRICS.md"
            assert label is None or label in labels_of(selector.metric, metric)
        return
    assert check_query(query.expr) == []


def test_every_listed_metric_is_read_somewhere() -> None:
    read = {
        row.name
        for expr in [rule["expr"] for rule in alert_rules()] + [q.expr for q in QUERIES]
        for series in promql.parse_variable(expr)[0].metrics
        if (row := metric_of(series)) is not None
    }
    assert set(METRICS) - read == set()


def test_the_check_catches_unknown_names_and_labels() -> None:
    assert check_query("rate(auterity_http_requests_total[5m])") == []
    assert check_query("rate(auterity_http_request_total[5m])") != []  # a typo
    assert check_query("auterity_http_request_seconds_sum") == []
    assert check_query("auterity_human_tasks_pending_count") != []  # a gauge has no _count
    assert check_query('auterity_http_requests_total{tenant="a"}') != []
    assert check_query("sum by (node_id) (auterity_executions_failed_total)") != []
    assert check_query("sum by (task_queue) (auterity_executions_failed_total)") == []
