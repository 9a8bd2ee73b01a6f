"""deploy/kubernetes: both overlays render, validate against Kubernetes, and hold the rules.

Rendering needs `kubectl kustomize` (or `kustomize`); validation uses the
kubernetes-validate schemas of Kubernetes 1.34, strict (unknown fields fail).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
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
    assert set(specs) == {
        "auterity-api", "auterity-worker", "auterity-llm-worker", "auterity-migrate",
    }  # fmt: skip
    accounts = [pod["serviceAccountName"] for pod in specs.values()]
    assert len(set(accounts)) == len(accounts), "one identity per process kind"
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
    for name in ("auterity-worker", "auterity-llm-worker"):
        (worker,) = specs[name]["containers"]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert worker[probe]["httpGet"] == {"path": "/metrics", "port": "metrics"}, name
        assert specs[name]["terminationGracePeriodSeconds"] >= 60, name


def test_each_deployment_has_an_autoscaler_and_a_disruption_budget(
    overlay: tuple[str, list[dict[str, Any]]],
) -> None:
    _, docs = overlay
    deployments = objects(docs, "Deployment")
    autoscalers = objects(docs, "HorizontalPodAutoscaler")
    budgets = objects(docs, "PodDisruptionBudget")
    assert set(deployments) == {"auterity-api", "auterity-worker", "auterity-llm-worker"}
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


def environment(docs: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, str]:
    """The plain values a container starts with: its ConfigMaps, then its own `env`
    (which wins, as in Kubernetes); values from Secrets are left out."""
    configs = objects(docs, "ConfigMap")
    values: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            data = configs[source["configMapRef"]["name"]]["data"]
            values.update({source.get("prefix", "") + key: value for key, value in data.items()})
    for env in container.get("env", []):
        ref = env.get("valueFrom", {}).get("configMapKeyRef")
        if "value" in env:
            values[env["name"]] = env["value"]
        elif ref:
            values[env["name"]] = configs[ref["name"]]["data"][ref["key"]]
        else:
            values.pop(env["name"], None)
    return values


def container_of(docs: list[dict[str, Any]], deployment: str) -> dict[str, Any]:
    (container,) = objects(docs, "Deployment")[deployment]["spec"]["template"]["spec"]["containers"]
    return container


def check_llm_split(docs: list[dict[str, Any]]) -> None:
    """The API starts runs with the llm task queue the llm worker polls, so the workers
    holding the runs never import LiteLLM."""
    containers = {
        name: container_of(docs, f"auterity-{name}") for name in ("api", "worker", "llm-worker")
    }
    settings = {name: environment(docs, container) for name, container in containers.items()}
    llm_queue = settings["api"].get("AUTERITY_LLM_TASK_QUEUE")
    assert llm_queue, "without it the API sends llm nodes to the runs' own queue"
    assert settings["llm-worker"].get("AUTERITY_LLM_TASK_QUEUE") == llm_queue, settings
    runs_queue = settings["api"]["AUTERITY_TASK_QUEUE"]
    assert settings["worker"]["AUTERITY_TASK_QUEUE"] == runs_queue
    # On the runs' queue the llm worker would be handed http and other tasks it cannot run.
    assert llm_queue != runs_queue
    assert containers["llm-worker"]["args"] == ["worker", "--llm"]
    assert containers["worker"]["args"] == ["worker"], "the runs' worker polls the runs' queue"


def test_llm_nodes_run_on_the_llm_worker_alone(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _, docs = overlay
    check_llm_split(docs)


def set_llm_queue(container: dict[str, Any]) -> None:
    container["env"].append({"name": "AUTERITY_LLM_TASK_QUEUE", "value": "elsewhere"})


def drop_settings(container: dict[str, Any]) -> None:
    sources = container["envFrom"]
    container["envFrom"] = [source for source in sources if "configMapRef" not in source]


@pytest.mark.parametrize(
    ("deployment", "break_it"),
    [
        ("auterity-llm-worker", set_llm_queue),
        ("auterity-api", set_llm_queue),
        ("auterity-api", drop_settings),
        ("auterity-llm-worker", lambda container: container["args"].remove("--llm")),
        ("auterity-worker", lambda container: container["args"].append("--llm")),
    ],
    ids=["llm-worker-queue", "api-queue", "api-settings", "llm-worker-args", "worker-args"],
)
def test_the_llm_split_check_catches_a_broken_split(
    overlay: tuple[str, list[dict[str, Any]]],
    deployment: str,
    break_it: Callable[[dict[str, Any]], None],
) -> None:
    """Each way the split can come apart fails the check above."""
    _, docs = overlay
    broken = copy.deepcopy(docs)
    break_it(container_of(broken, deployment))
    with pytest.raises(AssertionError):
        check_llm_split(broken)


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


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels and matchExpressions) picks these labels."""
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        key, values = expression["key"], expression.get("values", [])
        present = key in labels
        if not {
            "In": present and labels[key] in values,
            "NotIn": not present or labels[key] not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }[expression["operator"]]:
            return False
    return True


def policy_rules(
    docs: list[dict[str, Any]], deployment: str, direction: str
) -> list[dict[str, Any]]:
    """The ingress or egress rules of every NetworkPolicy that selects a Deployment's pods."""
    labels = objects(docs, "Deployment")[deployment]["spec"]["template"]["metadata"]["labels"]
    kind = direction.capitalize()
    return [
        rule
        for policy in objects(docs, "NetworkPolicy").values()
        if kind in policy["spec"]["policyTypes"] and selects(policy["spec"]["podSelector"], labels)
        for rule in policy["spec"].get(direction, [])
    ]


def ports(rules: list[dict[str, Any]]) -> set[tuple[str, int]]:
    return {(port["protocol"], port["port"]) for rule in rules for port in rule.get("ports", [])}


@pytest.mark.parametrize("deployment", ["auterity-worker", "auterity-llm-worker"])
def test_workers_reach_temporal_dns_and_the_model_providers(
    overlay: tuple[str, list[dict[str, Any]]], deployment: str
) -> None:
    _, docs = overlay
    egress = policy_rules(docs, deployment, "egress")
    reached = ports(egress)
    for port in [("TCP", 7233), ("UDP", 53), ("TCP", 5432), ("TCP", 443)]:
        assert port in reached, (deployment, port)
    for rule in egress:
        if ("TCP", 443) in ports([rule]):
            assert rule.get("to"), "HTTPS to anywhere, cloud metadata included"
            for peer in rule["to"]:
                if "ipBlock" in peer:
                    assert "169.254.0.0/16" in peer["ipBlock"].get("except", []), peer
    ingress = policy_rules(docs, deployment, "ingress")
    assert ports(ingress) == {("TCP", 9464)}, "Prometheus's scrape only"


def test_policy_selectors_are_read_as_kubernetes_reads_them() -> None:
    labels = {"app.kubernetes.io/name": "auterity", "app.kubernetes.io/component": "llm-worker"}
    component = {"key": "app.kubernetes.io/component", "operator": "In", "values": ["worker"]}
    narrow = {"matchExpressions": [component]}
    assert not selects(narrow, labels)
    assert not selects({"matchLabels": {"app.kubernetes.io/component": "worker"}}, labels)
    assert selects({"matchLabels": {"app.kubernetes.io/name": "auterity"}}, labels)
    assert selects({}, labels)


def test_prometheus_kubernetes_config_finds_the_production_pods(kustomize: list[str]) -> None:
    result = run([*kustomize, str(KUBERNETES / "overlays" / "production")])
    docs = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    services = {
        f"{doc['metadata']['name']}.{doc['metadata']['namespace']}.svc.cluster.local": doc
        for doc in docs
        if doc["kind"] == "Service" and doc["spec"].get("clusterIP") == "None"
    }
    prometheus = yaml.safe_load((REPO / "monitoring" / "prometheus-kubernetes.yml").read_text())
    scraped = set()
    for job in prometheus["scrape_configs"]:
        for discovery in job.get("dns_sd_configs", []):
            (dns_name,) = discovery["names"]
            served = [port["port"] for port in services[dns_name]["spec"]["ports"]]
            assert discovery["port"] in served, job["job_name"]
            scraped.add(dns_name)
    assert scraped == set(services), "a pod kind Prometheus does not scrape"
    (llm_job,) = [
        job for job in prometheus["scrape_configs"] if job["job_name"] == "auterity-llm-worker"
    ]
    ((dns_name,),) = [discovery["names"] for discovery in llm_job["dns_sd_configs"]]
    # AuterityLlmWorkerDown takes a job without targets for a day as a deployment without
    # llm workers: pods that never got ready must be targets that are down, not none.
    assert services[dns_name]["spec"]["publishNotReadyAddresses"] is True


def test_every_worker_replica_and_the_api_get_the_shared_blob_store(
    overlay: tuple[str, list[dict[str, Any]]],
) -> None:
    name, docs = overlay
    settings = objects(docs, "ConfigMap")
    deployments = objects(docs, "Deployment")
    if name == "production":
        assert deployments["auterity-worker"]["spec"]["replicas"] >= 2
        assert deployments["auterity-llm-worker"]["spec"]["replicas"] >= 2
    for deployment in ("auterity-api", "auterity-worker", "auterity-llm-worker"):
        (container,) = deployments[deployment]["spec"]["template"]["spec"]["containers"]
        sources = container["envFrom"]
        (config,) = [
            source["configMapRef"]["name"] for source in sources if "configMapRef" in source
        ]
        assert settings[config]["data"]["AUTERITY_BLOB_URL"].startswith("s3://")
        assert {"secretRef": {"name": "auterity-blob-store", "optional": True}} in sources
