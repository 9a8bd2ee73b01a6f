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
    resources,
    tf_files,
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
