"""Prometheus configuration and alert rules: promtool checks them and runs their unit tests."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.operations.monitoring.sources import (
    ALERT_TESTS,
    ALERTS,
    MONITORING,
    alert_rules,
    dashboards,
)
from tests.operations.tools import output, run

CONFIGS = ["prometheus.yml", "prometheus-kubernetes.yml"]


@pytest.mark.parametrize("config", CONFIGS)
def test_promtool_checks_the_configuration(promtool: str, config: str) -> None:
    result = run([promtool, "check", "config", config], cwd=MONITORING)
    assert result.returncode == 0, output(result)


def test_promtool_checks_the_rules(promtool: str) -> None:
    result = run([promtool, "check", "rules", str(ALERTS)])
    assert result.returncode == 0, output(result)
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


def test_promtool_runs_the_alert_unit_tests(promtool: str) -> None:
    result = run([promtool, "test", "rules", str(ALERT_TESTS)])
    assert result.returncode == 0, output(result)


def test_promtool_unit_tests_can_fail(promtool: str, tmp_path: Path) -> None:
    """The same tests against rules with a raised threshold: they must catch it."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / ALERT_TESTS.name).write_text(ALERT_TESTS.read_text())
    (tmp_path / "alerts.yml").write_text(ALERTS.read_text().replace("> 0.25", "> 0.99", 1))
    result = run([promtool, "test", "rules", str(tmp_path / "tests" / ALERT_TESTS.name)])
    assert result.returncode != 0
    assert "AuterityRunFailureRateHigh" in result.stdout + result.stderr


def test_every_alert_is_expected_to_fire_in_a_unit_test() -> None:
    cases = yaml.safe_load(ALERT_TESTS.read_text())["tests"]
    fired = {
        check["alertname"]
        for case in cases
        for check in case["alert_rule_test"]
        if check.get("exp_alerts")
    }
    quiet = {
        check["alertname"]
        for case in cases
        for check in case["alert_rule_test"]
        if not check.get("exp_alerts")
    }
    names = {rule["alert"] for rule in alert_rules()}
    assert names - fired == set(), "alerts no unit test expects to fire"
    assert len(quiet & names) >= len(names) // 2, (
        "most alerts also need a case where they stay quiet"
    )


def test_issue_15_alerts_exist() -> None:
    names = {rule["alert"] for rule in alert_rules()}
    for wanted in (
        "AuterityRunsStuck",  # stuck runs
        "AuterityRunFailureRateHigh",  # failure rate
        "AuterityActivityScheduleToStartHigh",  # schedule-to-start latency
        "AuterityWorkflowTaskScheduleToStartHigh",
        "AuterityWorkerDown",  # worker down
        "AuterityLoginFailureBurst",  # login-failure bursts
        "AuterityAuditVerificationFailed",  # audit verification failure
        "AuterityBudgetBurnTooFast",  # budget burn
    ):
        assert wanted in names


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_every_alert_says_how_urgent_it_is_and_where_to_look(rule: dict[str, Any]) -> None:
    assert re.fullmatch(r"Auterity[A-Za-z]+", rule["alert"])
    assert rule["labels"]["severity"] in {"page", "ticket"}
    assert rule["labels"].get("team", "security") == "security"
    assert rule["annotations"]["summary"]
    uids = {dashboard["uid"] for dashboard in dashboards().values()}
    assert rule["annotations"]["dashboard"].removeprefix("/d/") in uids


@pytest.mark.parametrize("config", CONFIGS)
def test_scrape_jobs_are_the_ones_the_rules_name(config: str) -> None:
    loaded = yaml.safe_load((MONITORING / config).read_text())
    jobs = {job["job_name"] for job in loaded["scrape_configs"]}
    assert {"auterity-api", "auterity-worker", "auterity-llm-worker"} <= jobs
    assert loaded["rule_files"] == ["alerts.yml"]
    assert loaded["alerting"]["alertmanagers"]
