"""deploy/docker-compose.yml: docker-compose parses it, and it wires the stack as designed."""

from __future__ import annotations

import re
import shutil
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from auterity.security.rls import APP_ROLE
from tests.operations.tools import REPO, output, require, run

DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
REQUIRED = [
    "AUTERITY_SECRET_KEY",
    "POSTGRES_PASSWORD",
    "AUTERITY_OWNER_DB_PASSWORD",
    "AUTERITY_APP_DB_PASSWORD",
    "TEMPORAL_DB_PASSWORD",
    "GRAFANA_ADMIN_PASSWORD",
    "MINIO_ROOT_PASSWORD",
    "MINIO_KMS_SECRET_KEY",
]
# Values the test passes for the required variables (not secrets: placeholders).
PLACEHOLDERS = {name: f"placeholder-{name.lower()}" for name in REQUIRED}


@pytest.fixture(scope="module")
def compose_command() -> list[str]:
    """Debian's docker-compose, or the compose plugin when it works without an engine."""
    docker = shutil.which("docker")
    if docker and run([docker, "compose", "version"]).returncode == 0:
        return [docker, "compose"]
    return [require("docker-compose", install="apt-get install docker-compose")]


@pytest.fixture(scope="module")
def rendered(compose_command: list[str]) -> dict[str, Any]:
    result = run([*compose_command, "-f", str(COMPOSE), "config"], env=PLACEHOLDERS)
    assert result.returncode == 0, output(result)
    loaded: dict[str, Any] = yaml.safe_load(result.stdout)
    return loaded


def test_docker_compose_refuses_to_run_without_the_passwords(compose_command: list[str]) -> None:
    for missing in REQUIRED:
        env = {**PLACEHOLDERS, missing: ""}
        result = run([*compose_command, "-f", str(COMPOSE), "config", "-q"], env=env)
        assert result.returncode != 0, missing
        assert missing in result.stdout + result.stderr


def test_the_whole_stack(rendered: dict[str, Any]) -> None:
    assert set(rendered["services"]) == {
        "postgres", "temporal-schema", "temporal", "temporal-namespace", "temporal-ui",
        "minio", "minio-bucket", "migrate", "api", "worker", "llm-worker",
        "prometheus", "alertmanager", "grafana", "otel-collector", "jaeger",
    }  # fmt: skip


def test_images_are_pinned_and_current(rendered: dict[str, Any]) -> None:
    for name, service in rendered["services"].items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), name
    images = {service["image"].split(":")[0] for service in rendered["services"].values()}
    assert "temporalio/auto-setup" not in images  # deprecated: server + admin-tools instead
    assert {"temporalio/server", "temporalio/admin-tools", "temporalio/ui"} <= images


def database_user(url: str) -> str:
    return urlsplit(url).username or ""


def test_migrations_run_as_the_owner_and_the_processes_as_the_app_login(
    rendered: dict[str, Any],
) -> None:
    services = rendered["services"]
    migrate = services["migrate"]["environment"]
    assert database_user(migrate["AUTERITY_MIGRATION_DATABASE_URL"]) == "auterity_owner"
    for name in ("api", "worker", "llm-worker"):
        environment = services[name]["environment"]
        assert database_user(environment["AUTERITY_DATABASE_URL"]) == "auterity_api"
        assert "AUTERITY_MIGRATION_DATABASE_URL" not in environment
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
    assert services["worker"]["environment"]["AUTERITY_WORKER_METRICS_PORT"] == "9464"
    assert services["api"]["environment"]["AUTERITY_METRICS_PORT"] == "9465"
    script = (DEPLOY / "postgres" / "init-roles.sh").read_text()
    assert f"CREATE ROLE {APP_ROLE} NOLOGIN" in script
    assert f"CREATE ROLE auterity_api LOGIN PASSWORD :'app_password' IN ROLE {APP_ROLE}" in script
    assert "CREATE DATABASE auterity OWNER auterity_owner" in script


def test_llm_nodes_run_on_the_llm_worker_alone(rendered: dict[str, Any]) -> None:
    """The API starts runs with the llm task queue the llm worker polls, so the worker
    holding the runs never imports LiteLLM."""
    services = rendered["services"]
    queues = {
        name: services[name]["environment"]["AUTERITY_LLM_TASK_QUEUE"]
        for name in ("api", "worker", "llm-worker")
    }
    assert set(queues.values()) == {"auterity-llm"}, queues
    assert services["llm-worker"]["command"] == ["worker", "--llm"]
    assert services["worker"]["command"] == ["worker"]


def test_api_and_worker_share_the_minio_blob_store(rendered: dict[str, Any]) -> None:
    services = rendered["services"]
    for name in ("api", "worker", "llm-worker"):
        environment = services[name]["environment"]
        url = urlsplit(environment["AUTERITY_BLOB_URL"])
        assert (url.scheme, url.netloc) == ("s3", "auterity-blobs")
        assert "endpoint=http://minio:9000" in url.query
        assert environment["AWS_SECRET_ACCESS_KEY"] == PLACEHOLDERS["MINIO_ROOT_PASSWORD"]
    minio = services["minio"]["environment"]
    assert minio["MINIO_KMS_SECRET_KEY"] == PLACEHOLDERS["MINIO_KMS_SECRET_KEY"]
    bucket = " ".join(services["minio-bucket"]["entrypoint"])
    assert "mb --ignore-existing blobs/auterity-blobs" in bucket
    assert services["migrate"]["depends_on"]["minio-bucket"]["condition"] == (
        "service_completed_successfully"
    )


def test_temporal_on_postgresql_is_set_up_before_it_starts(rendered: dict[str, Any]) -> None:
    services = rendered["services"]
    assert services["temporal"]["environment"]["DB"] == "postgres12"
    assert services["temporal"]["depends_on"]["temporal-schema"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["migrate"]["depends_on"]["temporal-namespace"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["temporal-ui"]["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"


def test_bind_mounts_exist_and_monitoring_files_are_the_checked_ones(
    rendered: dict[str, Any],
) -> None:
    targets = {}
    for service in rendered["services"].values():
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            target = volume["target"] if isinstance(volume, dict) else volume.split(":")[1]
            if source.startswith("/"):
                assert (REPO / source.removeprefix(str(REPO) + "/")).exists(), source
                targets[target] = source.removeprefix(str(REPO) + "/")
    assert targets["/etc/prometheus/prometheus.yml"] == "monitoring/prometheus.yml"
    assert targets["/etc/prometheus/alerts.yml"] == "monitoring/alerts.yml"
    assert targets["/etc/alertmanager/alertmanager.yml"] == "monitoring/alertmanager.yml"
    assert targets["/etc/otelcol-contrib/config.yaml"] == "monitoring/otel-collector.yml"
    assert targets["/etc/grafana/provisioning"] == "monitoring/grafana/provisioning"
    provider = yaml.safe_load(
        (REPO / "monitoring/grafana/provisioning/dashboards/auterity.yml").read_text()
    )["providers"][0]
    assert targets[provider["options"]["path"]] == "monitoring/grafana/dashboards"


def test_prometheus_scrapes_the_services_compose_runs() -> None:
    prometheus = yaml.safe_load((REPO / "monitoring" / "prometheus.yml").read_text())
    compose = yaml.safe_load(COMPOSE.read_text())
    for job in prometheus["scrape_configs"]:
        static = [
            target for config in job.get("static_configs", []) for target in config["targets"]
        ]
        hosts = [target.split(":")[0] for target in static]
        hosts += [name for config in job.get("dns_sd_configs", []) for name in config["names"]]
        assert hosts, job["job_name"]
        for host in hosts:
            assert host == "localhost" or host in compose["services"], host


def test_no_secret_value_is_written_in_the_compose_file() -> None:
    text = COMPOSE.read_text()
    settings = re.finditer(r"^\s*(\w*(?:PASSWORD|PWD|SECRET_KEY)\w*):\s*(\S+)", text, re.M)
    urls = re.finditer(r"://[^:/\s]+:(\S+?)@", text)
    values = [match[2] for match in settings] + [match[1] for match in urls]
    assert len(values) >= 8
    for value in values:
        assert value.startswith("${") and ":?" in value, value
    for line in (DEPLOY / "env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            assert line.endswith("="), f"env.example must not carry a value: {line}"
