"""Two worker kinds, two scrape jobs: each kind has a Down alert of its own, and no
rule or dashboard loses the series of either.

`auterity worker` (job auterity-worker) holds the runs; `auterity worker --llm` (job
auterity-llm-worker) runs the llm node activities where AUTERITY_LLM_TASK_QUEUE splits
them off. Without the split the plain workers run llm nodes and export the llm
metrics, so a query on a worker metric must accept both jobs. The alerts' behaviour
is in monitoring/tests/alerts_test.yml; here promtool runs some of its cases again
against rules broken on purpose, which those cases must catch.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.operations.monitoring import promql
from tests.operations.monitoring.sources import (
    ALERT_TESTS,
    ALERTS,
    MONITORING,
    alert_rules,
    dashboard_queries,
    metric_of,
)
from tests.operations.tools import output, run

WORKER = "auterity-worker"
LLM_WORKER = "auterity-llm-worker"
WORKER_JOBS = (WORKER, LLM_WORKER)
CONFIGS = ["prometheus.yml", "prometheus-kubernetes.yml"]
WITHOUT_LLM_WORKERS = "A deployment without llm workers"

QUERIES = [(f"alert {rule['alert']}", promql.parse(rule["expr"])) for rule in alert_rules()] + [
    (f"{query.dashboard}: {query.where}", promql.parse_variable(query.expr)[0])
    for query in dashboard_queries()
]


def narrowed_worker_selectors(query: promql.Query) -> list[str]:
    """The selectors of worker metrics in `query` that refuse one of the worker jobs."""
    return [
        f"{selector.metric} refuses job {job}"
        for selector in query.selectors
        if (metric := metric_of(selector.metric)) and "worker" in metric.exported_by
        for job in WORKER_JOBS
        if not selector.accepts("job", job)
    ]


def workers_up(query: promql.Query) -> list[set[str]]:
    """For each `up` selector of `query` that reads worker targets, the worker jobs it reads."""
    read = [
        {job for job in WORKER_JOBS if selector.accepts("job", job)}
        for selector in query.selectors
        if selector.metric == "up"
    ]
    return [jobs for jobs in read if jobs]


def _targets(job: dict[str, Any]) -> list[str]:
    static = [target for config in job.get("static_configs", []) for target in config["targets"]]
    dns = [name for config in job.get("dns_sd_configs", []) for name in config["names"]]
    return static + dns


@pytest.mark.parametrize("config", CONFIGS)
def test_each_worker_kind_is_a_scrape_job_of_its_own(config: str) -> None:
    jobs = {
        job["job_name"]: _targets(job)
        for job in yaml.safe_load((MONITORING / config).read_text())["scrape_configs"]
    }
    assert jobs[WORKER] and not [target for target in jobs[WORKER] if "llm" in target]
    assert jobs[LLM_WORKER] and all("llm-worker" in target for target in jobs[LLM_WORKER])


@pytest.mark.parametrize(("where", "query"), QUERIES, ids=[where for where, _ in QUERIES])
def test_queries_on_worker_metrics_accept_both_worker_jobs(where: str, query: promql.Query) -> None:
    assert narrowed_worker_selectors(query) == []


def test_the_llm_metrics_are_among_the_queries_checked() -> None:
    read = {metric for _, query in QUERIES for metric in query.metrics}
    assert {
        "auterity_llm_tokens_total",
        "auterity_llm_cost_usd_sum",
        "temporal_activity_execution_latency_bucket",
        "temporal_activity_schedule_to_start_latency_bucket",
    } <= read


def test_the_job_check_catches_a_query_narrowed_to_one_worker_kind() -> None:
    def narrowed(expr: str) -> list[str]:
        return narrowed_worker_selectors(promql.parse(expr))

    assert narrowed("sum(rate(auterity_llm_tokens_total[5m]))") == []
    assert narrowed(f'sum(auterity_llm_cost_usd_sum{{job=~"{WORKER}|{LLM_WORKER}"}})') == []
    assert narrowed('auterity_llm_tokens_total{job=~"auterity-(llm-)?worker"}') == []
    assert narrowed(f'auterity_llm_tokens_total{{job="{WORKER}"}}') != []
    assert narrowed(f'auterity_llm_cost_usd_sum{{job="{LLM_WORKER}"}}') != []
    assert narrowed('up{job="a"} + auterity_llm_cost_usd_sum{job!~".*llm.*"}') != []
    assert narrowed(f"temporal_num_pollers{{job=`{WORKER}`}}") != []
    assert narrowed(f'up{{job="{WORKER}"}}') == []  # `up` is Prometheus's: per kind on purpose


def test_the_dashboards_count_both_worker_kinds_up() -> None:
    counted = {
        where: workers_up(query) for where, query in QUERIES if not where.startswith("alert ")
    }
    assert {where: jobs for where, jobs in counted.items() if jobs} == {
        "runs.json: panel 'Workers up'": [set(WORKER_JOBS)]
    }


def test_each_worker_kind_has_a_down_alert_of_its_own() -> None:
    paging = {
        rule["alert"]: set().union(*workers_up(promql.parse(rule["expr"])))
        for rule in alert_rules()
        if rule["labels"]["severity"] == "page"
    }
    assert {alert: jobs for alert, jobs in paging.items() if jobs} == {
        "AuterityWorkerDown": {WORKER},
        "AuterityLlmWorkerDown": {LLM_WORKER},
    }


# --- promtool: the cases of alerts_test.yml against rules broken on purpose -----------


def alert_tests() -> dict[str, Any]:
    return yaml.safe_load(ALERT_TESTS.read_text())


def case(name: str) -> dict[str, Any]:
    (found,) = [case for case in alert_tests()["tests"] if case["name"] == name]
    return found


def without_llm_workers() -> dict[str, Any]:
    """That case of alerts_test.yml, expecting every alert of alerts.yml to stay quiet."""
    found = case(WITHOUT_LLM_WORKERS)
    assert not [series for series in found["input_series"] if LLM_WORKER in series["series"]]
    times = sorted({check["eval_time"] for check in found["alert_rule_test"]})
    found["alert_rule_test"] = [
        {"eval_time": time, "alertname": rule["alert"], "exp_alerts": []}
        for time in times
        for rule in alert_rules()
    ]
    return found


def promtool_test(
    promtool: str, tmp_path: Path, cases: list[dict[str, Any]], *, rule: str = "", expr: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run `cases` against alerts.yml, with the expression of alert `rule` replaced by `expr`."""
    groups = yaml.safe_load(ALERTS.read_text())
    for group in groups["groups"]:
        for alert in group["rules"]:
            if alert["alert"] == rule:
                alert["expr"] = expr
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump(groups, sort_keys=False))
    tests = {**alert_tests(), "rule_files": ["alerts.yml"], "tests": cases}
    (tmp_path / "alerts_test.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    return run([promtool, "test", "rules", str(tmp_path / "alerts_test.yml")])


def test_a_deployment_without_llm_workers_fires_nothing(promtool: str, tmp_path: Path) -> None:
    result = promtool_test(promtool, tmp_path, [without_llm_workers()])
    assert result.returncode == 0, output(result)


BROKEN = {
    # The review's finding: one Down alert for both kinds, which a surviving llm worker silences.
    "a Down alert shared by both kinds": (
        "AuterityWorkerDown",
        f'absent(up{{job=~"{WORKER}|{LLM_WORKER}"}} == 1)',
        "Every worker holding runs is down while an llm worker is up",
    ),
    "an llm Down alert that fires without llm workers": (
        "AuterityLlmWorkerDown",
        f'absent(up{{job="{LLM_WORKER}"}} == 1)',
        WITHOUT_LLM_WORKERS,
    ),
    "an llm Down alert blind to vanished targets": (
        "AuterityLlmWorkerDown",
        f'max(up{{job="{LLM_WORKER}"}}) == 0',
        "The llm workers' targets vanish, and count as retired a day later",
    ),
    "an llm Down alert that never fires": (
        "AuterityLlmWorkerDown",
        f'absent(up{{job="{LLM_WORKER}"}} == 1) and on() up{{job="{LLM_WORKER}"}} == 1',
        "Every llm worker is down while the workers holding runs are up",
    ),
    "an instance alert blind to llm workers": (
        "AuterityWorkerInstanceDown",
        f'up{{job="{WORKER}"}} == 0',
        "Every llm worker is down while the workers holding runs are up",
    ),
}


@pytest.mark.parametrize("broken", BROKEN)
def test_the_worker_cases_catch_a_broken_rule(promtool: str, tmp_path: Path, broken: str) -> None:
    rule, expr, name = BROKEN[broken]
    cases = [without_llm_workers() if name == WITHOUT_LLM_WORKERS else case(name)]
    result = promtool_test(promtool, tmp_path, cases, rule=rule, expr=expr)
    assert result.returncode != 0, output(result)
    assert f"alertname: {rule}," in result.stdout + result.stderr, output(result)
