"""infrastructure/: every file parses, is formatted, and checkov passes it.

Providers cannot be downloaded here, so `terraform validate` cannot run; the
files are parsed with python-hcl2, formatted with `terraform fmt` where the
binary exists, and scanned with checkov (its own venv, made by `make test`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.operations.infrastructure.hcl import (
    INFRASTRUCTURE,
    load,
    module_call,
    modules,
    resources,
    tf_files,
    variables,
)
from tests.operations.tools import REPO, output, require, run

MODULES = INFRASTRUCTURE / "modules"
SKIP = re.compile(r"#checkov:skip=(?P<check>CKV2?_[A-Z]+_\d+)(?::(?P<reason>.*))?")


@pytest.mark.parametrize("path", tf_files(), ids=lambda p: str(p.relative_to(INFRASTRUCTURE)))
def test_every_file_parses(path: Path) -> None:
    assert load(path)


def test_terraform_fmt() -> None:
    terraform = require(
        "terraform",
        install="no Debian or PyPI package carries it; the GitHub workflow installs it",
        in_ci=False,
    )
    result = run([terraform, "fmt", "-check", "-recursive", "-diff", str(INFRASTRUCTURE)])
    assert result.returncode == 0, output(result)


@pytest.fixture(scope="module")
def checkov() -> dict[str, Any]:
    binary = require(
        "checkov",
        install="make test creates .venv-checkov",
        search=[REPO / ".venv-checkov" / "bin"],
    )
    result = run(
        [binary, "-d", str(INFRASTRUCTURE), "--framework", "terraform", "--skip-download",
         "--output", "json", "--compact"],
    )  # fmt: skip
    assert result.returncode in {0, 1}, output(result)
    report = json.loads(result.stdout)
    report = report[0] if isinstance(report, list) else report
    assert report["check_type"] == "terraform"
    return report  # type: ignore[no-any-return]


def test_checkov_passes(checkov: dict[str, Any]) -> None:
    summary = checkov["summary"]
    failed = [
        f"{check['check_id']} {check['resource']} ({check['file_path']}:{check['file_line_range']})"
        for check in checkov["results"]["failed_checks"]
    ]
    assert failed == [], "\n".join(failed)
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 250  # both environments' resources were scanned


def test_every_skipped_check_is_explained_where_it_is_skipped(checkov: dict[str, Any]) -> None:
    for check in checkov["results"]["skipped_checks"]:
        reason = check["check_result"].get("suppress_comment", "")
        assert len(reason) >= 30, f"{check['check_id']} on {check['resource']}: say why"
    written = [match for path in tf_files() for match in SKIP.finditer(path.read_text())]
    assert written, "the report's skips come from comments in the files"
    for match in written:
        assert match["reason"] and len(match["reason"].strip()) >= 30, match[0]


def test_staging_alone_waives_the_production_protections() -> None:
    staging = (INFRASTRUCTURE / "environments" / "staging" / "main.tf").read_text()
    production = (INFRASTRUCTURE / "environments" / "production" / "main.tf").read_text()
    assert {m["check"] for m in SKIP.finditer(staging)} == {
        "CKV_AWS_293",
        "CKV_AWS_150",
        "CKV_AWS_157",
    }
    assert not SKIP.search(production)
    call = module_call("production")
    assert call["deletion_protection"] is True
    assert call["database_multi_az"] is True
    assert call["database_backup_retention_days"] >= 14
    assert call["single_nat_gateway"] is False
    assert module_call("staging")["database_backup_retention_days"] >= 1


def test_both_environments_use_the_shared_stack() -> None:
    for environment in ("staging", "production"):
        assert module_call(environment)["source"] == "../../modules/stack"
        assert (INFRASTRUCTURE / "environments" / environment / "outputs.tf").exists()
    stack = {path.name for path in (MODULES / "stack").glob("*.tf")}
    assert {"main.tf", "variables.tf", "outputs.tf", "versions.tf"} <= stack
    sources = re.findall(r'source\s*=\s*"\.\./(\w+)"', (MODULES / "stack" / "main.tf").read_text())
    assert set(sources) == {
        "kms", "network", "database", "secrets", "blob_store", "load_balancer", "ecs_service",
    }  # fmt: skip


def test_the_database_is_private_encrypted_and_recoverable() -> None:
    database = resources(MODULES / "database" / "main.tf")[("aws_db_instance", "this")]
    assert database["publicly_accessible"] is False
    assert database["storage_encrypted"] is True
    assert database["kms_key_id"] == "${var.kms_key_arn}"
    assert database["backup_retention_period"] == "${var.backup_retention_days}"
    assert database["skip_final_snapshot"] is False
    assert database["deletion_protection"] == "${var.deletion_protection}"
    assert database["multi_az"] == "${var.multi_az}"
    parameters = resources(MODULES / "database" / "main.tf")[("aws_db_parameter_group", "this")]
    assert {"name": "rds.force_ssl", "value": "1"} in parameters["parameter"]


def test_tls_with_a_modern_policy_and_http_redirected() -> None:
    found = resources(MODULES / "load_balancer" / "main.tf")
    https = found[("aws_lb_listener", "https")]
    assert https["protocol"] == "HTTPS"
    assert https["ssl_policy"].startswith("ELBSecurityPolicy-TLS13")
    (redirect,) = found[("aws_lb_listener", "http")]["default_action"]
    assert redirect["type"] == "redirect"
    assert redirect["redirect"][0]["protocol"] == "HTTPS"
    assert found[("aws_lb", "this")]["drop_invalid_header_fields"] is True


def test_logs_are_encrypted_and_expire() -> None:
    groups = [
        body
        for path in tf_files()
        for (kind, _), body in resources(path).items()
        if kind == "aws_cloudwatch_log_group"
    ]
    assert len(groups) >= 4
    for group in groups:
        assert group["kms_key_id"] and group["retention_in_days"], group["name"]


def test_secrets_are_in_secrets_manager_and_no_value_is_written() -> None:
    secrets = resources(MODULES / "secrets" / "main.tf")
    assert secrets[("aws_secretsmanager_secret", "this")]["kms_key_id"] == "${var.kms_key_arn}"
    names = re.findall(r'"([\w-]+)"\s*=', (MODULES / "secrets" / "main.tf").read_text())
    assert {"secret-key", "database-url", "owner-url", "temporal-api-key"} <= set(names)
    for path in [*tf_files(), *INFRASTRUCTURE.rglob("*.tfvars.example")]:
        text = path.read_text()
        assert not re.search(r'(?i)(password|secret_string|api_key)\s*=\s*"[^"$]', text), path


def test_every_variable_and_output_is_described() -> None:
    for path in tf_files():
        parsed = load(path)
        for block in parsed.get("variable", []):
            for name, body in block.items():
                assert body.get("description") and "type" in body, f"{path}: variable {name}"
        for block in parsed.get("output", []):
            for name, body in block.items():
                assert body.get("description"), f"{path}: output {name}"


# --- the llm workers: llm nodes on a service of their own (README: Worker memory) -----

STACK = MODULES / "stack"
ASSIGNMENT = re.compile(r"\b([A-Z][A-Z0-9_]*) = ([^,}]+)")
# Fargate's CPU units -> the task memory sizes (MiB) it accepts.
FARGATE_MEMORY = {
    256: {512, 1024, 2048},
    512: set(range(1024, 4097, 1024)),
    1024: set(range(2048, 8193, 1024)),
    2048: set(range(4096, 16385, 1024)),
    4096: set(range(8192, 30721, 1024)),
}


def environment_of(call: dict[str, Any]) -> dict[str, str]:
    """The settings a service of modules/stack gets, as written: its merge() of the stack's
    locals and of literal maps, each value an expression (`var.x`) or a "string"."""
    written = {
        name: body for block in load(STACK / "main.tf")["locals"] for name, body in block.items()
    }
    expression = call["environment_variables"]
    found: dict[str, str] = {}
    for name in re.findall(r"\blocal\.(\w+)", expression):
        value = written[name]
        found |= value if isinstance(value, dict) else dict(ASSIGNMENT.findall(value))
    found |= dict(ASSIGNMENT.findall(expression))
    return {key: value.strip().removeprefix("${").removesuffix("}") for key, value in found.items()}


def test_llm_nodes_run_on_an_llm_worker_service_of_their_own() -> None:
    calls = modules(STACK / "main.tf")
    api, worker, llm = calls["api"], calls["worker"], calls["llm_worker"]
    assert llm["source"] == worker["source"] == "../ecs_service"
    assert llm["component"] == "llm-worker"
    assert llm["command"] == ["worker", "--llm"]
    assert worker["command"] == ["worker"]
    assert [name for name, call in calls.items() if "--llm" in call.get("command", [])] == [
        "llm_worker"
    ]
    # One variable, so the queue the API puts in each run is the one the llm workers poll.
    assert environment_of(api)["AUTERITY_LLM_TASK_QUEUE"] == "var.llm_task_queue"
    assert environment_of(llm)["AUTERITY_LLM_TASK_QUEUE"] == "var.llm_task_queue"
    assert "AUTERITY_LLM_TASK_QUEUE" not in environment_of(worker)
    assert environment_of(llm)["AUTERITY_WORKER_METRICS_PORT"] == '"9464"'
    assert environment_of(llm)["OTEL_SERVICE_NAME"] == '"auterity-llm-worker"'
    assert environment_of(llm)["AUTERITY_TASK_QUEUE"] == "var.task_queue"
    # The rest as the worker's: network, security group (egress, Prometheus's ingress),
    # secrets, role, logs, draining and scaling in slowly.
    for key in (
        "image", "ports", "stop_timeout_seconds", "secrets", "task_role_arn", "kms_key_arn",
        "log_retention_days", "cluster_arn", "cluster_name", "subnet_ids", "security_group_id",
        "discovery_namespace_id", "scale_in_cooldown_seconds",
    ):  # fmt: skip
        assert llm[key] == worker[key], key
    assert "create_service" not in llm and "target_group_arn" not in llm
    for key in ("cpu", "memory", "min_count", "max_count"):
        assert llm[key] == f"${{var.llm_worker_{key}}}", key


def test_the_llm_queue_is_one_variable_of_its_own() -> None:
    declared = variables(STACK / "variables.tf")
    queue = declared["llm_task_queue"]
    assert queue["default"] == "auterity-llm"
    (validation,) = queue["validation"]
    assert validation["condition"] == (
        '${var.llm_task_queue != "" && var.llm_task_queue != var.task_queue}'
    )
    (memory,) = declared["llm_worker_memory"]["validation"]
    assert memory["condition"] == "${var.llm_worker_memory >= 1024}"
    text = "\n".join(path.read_text() for path in (INFRASTRUCTURE / "environments").rglob("*.tf"))
    assert "llm_task_queue" not in text, "the environments keep the stack's one default"


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_every_service_is_sized_as_fargate_allows_and_llm_workers_for_litellm(
    environment: str,
) -> None:
    call = module_call(environment)
    for service in ("api", "worker", "llm_worker"):
        cpu, memory = call[f"{service}_cpu"], call[f"{service}_memory"]
        assert memory in FARGATE_MEMORY.get(cpu, set()), f"{service}: {cpu} CPU, {memory} MiB"
        assert 1 <= call[f"{service}_min_count"] <= call[f"{service}_max_count"], service
    assert call["llm_worker_memory"] >= 1024  # LiteLLM keeps ~360 MB resident


def test_environment_of_reads_the_locals_and_maps_a_service_merges() -> None:
    def queue(expression: str) -> str | None:
        return environment_of({"environment_variables": expression}).get("AUTERITY_LLM_TASK_QUEUE")

    assert queue("${merge(local.settings, local.llm_split, {A = 1})}") == "var.llm_task_queue"
    assert queue('${merge(local.settings, {OTEL_SERVICE_NAME = "x"})}') is None
    assert queue("${local.settings}") is None
    assert queue('${merge(local.settings, {AUTERITY_LLM_TASK_QUEUE = "other", B = 2})}') == (
        '"other"'
    )
    assert (
        environment_of({"environment_variables": "${local.settings}"})["AUTERITY_TASK_QUEUE"]
        == "var.task_queue"
    )
