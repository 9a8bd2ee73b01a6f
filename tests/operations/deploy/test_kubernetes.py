"""deploy/kubernetes: both overlays render, validate against Kubernetes, and hold the rules.

Rendering needs `kubectl kustomize` (or `kustomize`); validation uses the
kubernetes-validate schemas of Kubernetes 1.34, strict (unknown fields fail).
"""

from __future__ import annotations

import re
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.operations.tools import REPO, output, require, run

KUBERNETES = REPO / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.34.0"
OVERLAYS = ["staging", "production"]
README = (KUBERNETES / "README.md").read_text()


@pytest.fixture(scope="module")
def kustomize() -> list[str]:
    try:
        return [require("kustomize", install="", in_ci=False), "build"]
    except pytest.skip.Exception:
        return [
            require("kubectl", install="kubectl (with kustomize) is not installed"),
            "kustomize",
        ]


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(
    request: pytest.FixtureRequest, kustomize: list[str]
) -> tuple[str, list[dict[str, Any]]]:
    result = run([*kustomize, str(KUBERNETES / "overlays" / request.param)])
    assert result.returncode == 0, output(result)
    return request.param, [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def objects(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def test_every_object_validates_against_kubernetes(
    overlay: tuple[str, list[dict[str, Any]]],
) -> None:
    name, docs = overlay
    assert len(docs) >= 20
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_validation_rejects_a_broken_object() -> None:
    broken = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {"replicas": "two", "selector": {}, "template": {"spec": {"containers": []}}},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_namespaced_images_pinned_no_secret_objects(
    overlay: tuple[str, list[dict[str, Any]]],
) -> None:
    name, docs = overlay
    assert not objects(docs, "Secret"), "Secrets are referenced, never committed"
    (namespace,) = objects(docs, "Namespace")
    assert namespace == f"auterity-{name}"
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == namespace, doc["metadata"]["name"]
    for pod in pod_specs(docs).values():
        for container in pod["containers"]:
            repository, _, tag = container["image"].rpartition(":")
            assert "/" in repository and tag and tag != "latest", container["image"]


def pod_specs(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    specs = {}
    for kind in ("Deployment", "Job"):
        for name, doc in objects(docs, kind).items():
            specs[name] = doc["spec"]["template"]["spec"]
    return specs


def test_pods_are_locked_down(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _, docs = overlay
    specs = pod_specs(docs)
    assert set(specs) == {"auterity-api", "auterity-worker", "auterity-migrate"}
    for name, pod in specs.items():
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["serviceAccountName"] in objects(docs, "ServiceAccount"), name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            assert "memory" in container["resources"]["limits"], name


def test_probes(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _, docs = overlay
    specs = pod_specs(docs)
    (api,) = specs["auterity-api"]["containers"]
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["startupProbe"]["httpGet"]["path"] == "/healthz"
    (worker,) = specs["auterity-worker"]["containers"]
    assert worker["livenessProbe"]["httpGet"]["port"] == "metrics"
    assert specs["auterity-worker"]["terminationGracePeriodSeconds"] >= 60


def test_each_deployment_has_an_autoscaler_and_a_disruption_budget(
    overlay: tuple[str, list[dict[str, Any]]],
) -> None:
    _, docs = overlay
    deployments = objects(docs, "Deployment")
    autoscalers = objects(docs, "HorizontalPodAutoscaler")
    budgets = objects(docs, "PodDisruptionBudget")
    for name, deployment in deployments.items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        scaler = autoscalers[name]
        assert scaler["apiVersion"] == "autoscaling/v2"
        assert scaler["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1", "kind": "Deployment", "name": name,
        }  # fmt: skip
        assert 1 <= scaler["spec"]["minReplicas"] < scaler["spec"]["maxReplicas"]
        selector = budgets[name]["spec"]["selector"]["matchLabels"]
        assert selector.items() <= labels.items()
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_production_runs_more_than_staging(kustomize: list[str]) -> None:
    floors = {}
    for name in OVERLAYS:
        result = run([*kustomize, str(KUBERNETES / "overlays" / name)])
        docs = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
        floors[name] = {
            n: d["spec"]["minReplicas"] for n, d in objects(docs, "HorizontalPodAutoscaler").items()
        }
    for deployment, floor in floors["production"].items():
        assert floor > floors["staging"][deployment]
        assert floor >= 2, "production keeps a replica through a disruption"


def test_the_migration_job_is_the_only_owner(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _, docs = overlay
    for name, pod in pod_specs(docs).items():
        (container,) = pod["containers"]
        owner = [
            env for env in container.get("env", [])
            if env["name"] == "AUTERITY_MIGRATION_DATABASE_URL"
        ]  # fmt: skip
        if name == "auterity-migrate":
            assert owner[0]["valueFrom"]["secretKeyRef"] == {
                "name": "auterity-database",
                "key": "owner-url",
            }
            assert "auterity migrate" in " ".join(container["command"])
        else:
            assert owner == [], name


def test_secrets_are_referenced_as_the_readme_lists(
    overlay: tuple[str, list[dict[str, Any]]],
) -> None:
    _, docs = overlay
    documented = set(re.findall(r"^\| `([\w-]+)`(?: \(optional\))? \| `([\w-]+)`", README, re.M))
    documented_secrets = {secret for secret, _ in documented} | set(
        re.findall(r"^\| `([\w-]+)` \(optional\) \| any", README, re.M)
    )
    referenced = set()
    for pod in pod_specs(docs).values():
        for container in pod["containers"]:
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    referenced.add((ref["name"], ref["key"]))
                else:
                    assert not re.search("KEY|PASSWORD|SECRET|TOKEN", env["name"]), env
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in documented_secrets
    assert referenced and referenced <= documented, referenced - documented
    for config in objects(docs, "ConfigMap").values():
        for key in config["data"]:
            assert not re.search("KEY|PASSWORD|SECRET|TOKEN", key), key


def test_config_map_references_resolve(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _, docs = overlay
    configs = objects(docs, "ConfigMap")
    for pod in pod_specs(docs).values():
        for container in pod["containers"]:
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in configs


def test_network_policies_deny_by_default(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _, docs = overlay
    policies = objects(docs, "NetworkPolicy")
    default = policies["auterity-default-deny"]["spec"]
    assert default == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    internet = policies["auterity-internet-egress"]["spec"]["egress"][0]["to"][0]["ipBlock"]
    assert "169.254.0.0/16" in internet["except"]  # cloud metadata stays unreachable
    assert "10.0.0.0/8" in internet["except"]


def test_prometheus_kubernetes_config_finds_the_production_pods(kustomize: list[str]) -> None:
    result = run([*kustomize, str(KUBERNETES / "overlays" / "production")])
    docs = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    services = {
        f"{doc['metadata']['name']}.{doc['metadata']['namespace']}.svc.cluster.local": doc
        for doc in docs
        if doc["kind"] == "Service" and doc["spec"].get("clusterIP") == "None"
    }
    prometheus = yaml.safe_load((REPO / "monitoring" / "prometheus-kubernetes.yml").read_text())
    for job in prometheus["scrape_configs"]:
        for discovery in job.get("dns_sd_configs", []):
            (dns_name,) = discovery["names"]
            ports = [port["port"] for port in services[dns_name]["spec"]["ports"]]
            assert discovery["port"] in ports, job["job_name"]


def test_every_worker_replica_and_the_api_get_the_shared_blob_store(
    overlay: tuple[str, list[dict[str, Any]]],
) -> None:
    name, docs = overlay
    settings = objects(docs, "ConfigMap")
    deployments = objects(docs, "Deployment")
    if name == "production":
        assert deployments["auterity-worker"]["spec"]["replicas"] >= 2
    for deployment in ("auterity-api", "auterity-worker"):
        (container,) = deployments[deployment]["spec"]["template"]["spec"]["containers"]
        sources = container["envFrom"]
        (config,) = [
            source["configMapRef"]["name"] for source in sources if "configMapRef" in source
        ]
        assert settings[config]["data"]["AUTERITY_BLOB_URL"].startswith("s3://")
        assert {"secretRef": {"name": "auterity-blob-store", "optional": True}} in sources
