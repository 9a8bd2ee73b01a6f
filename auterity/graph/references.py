"""Registry references in a plan: which llm nodes name a prompt or a model of the registry,
and the plan with each pinned to a version.

An llm node (or the llm body of a `foreach`) names a registry prompt as
`prompt_ref: "<name>@<alias or version>"` and a registry model as `model_ref`. A run pins
each once, when it starts: the API does it before starting the run; a run started with
references still unpinned (a schedule's, whose input was fixed when it was saved) pins
them itself, first thing, through the `registry.pin` activity. Pinning writes the version
into the node's config (`prompt_version`, `model_version`), so moving an alias later
changes only runs started after.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from auterity.graph.compiler import ExecutionPlan

RegistryKindName = Literal["prompt", "model"]
FIELDS: dict[RegistryKindName, tuple[str, str]] = {
    "prompt": ("prompt_ref", "prompt_version"),
    "model": ("model_ref", "model_version"),
}
"""Registry kind -> (the config field naming it, the field its pinned version goes in)."""
REGISTRY_PIN = "registry.pin"
"""The activity that resolves a run's unpinned references: `PinInput` -> `PinOutput`."""


class RegistryReference(BaseModel):
    kind: RegistryKindName
    reference: str  # <name>@<alias or version>

    def key(self) -> str:
        return f"{self.kind}:{self.reference}"


class PinInput(BaseModel):
    tenant: str = Field(description="The tenant slug, whose registry is read")
    references: list[RegistryReference]


class PinOutput(BaseModel):
    versions: dict[str, int] = Field(description="`RegistryReference.key()` -> version")


def llm_configs(plan: ExecutionPlan) -> Iterator[tuple[str, dict[str, Any]]]:
    """(node id, config) of every llm call the plan makes, a foreach's body included."""
    for node_id, node in plan.nodes.items():
        if node.kind == "llm":
            yield node_id, node.config
            continue
        body = node.config.get("node") if node.kind == "foreach" else None
        inner = body.get("config") if isinstance(body, dict) else None
        if isinstance(body, dict) and body.get("type") == "llm" and isinstance(inner, dict):
            yield node_id, inner


def references(plan: ExecutionPlan, *, unpinned_only: bool = False) -> list[RegistryReference]:
    """The registry references the plan's llm calls make (each once, in plan order)."""
    found: dict[str, RegistryReference] = {}
    for _node_id, config in llm_configs(plan):
        for kind, (field, version_field) in FIELDS.items():
            reference = config.get(field)
            if not isinstance(reference, str):
                continue
            if unpinned_only and config.get(version_field) is not None:
                continue
            named = RegistryReference(kind=kind, reference=reference)
            found.setdefault(named.key(), named)
    return list(found.values())


def pin(plan: ExecutionPlan, versions: Mapping[str, int]) -> ExecutionPlan:
    """The plan with every reference `versions` knows (by `RegistryReference.key()`) pinned,
    where not pinned already."""
    nodes = dict(plan.nodes)
    for node_id, config in llm_configs(plan):
        update: dict[str, Any] = {}
        for kind, (field, version_field) in FIELDS.items():
            reference = config.get(field)
            if not isinstance(reference, str) or config.get(version_field) is not None:
                continue
            version = versions.get(RegistryReference(kind=kind, reference=reference).key())
            if version is not None:
                update[version_field] = version
        if not update:
            continue
        node = nodes[node_id]
        if node.kind == "llm":
            nodes[node_id] = node.model_copy(update={"config": {**config, **update}})
        else:
            body = {**node.config["node"], "config": {**config, **update}}
            nodes[node_id] = node.model_copy(update={"config": {**node.config, "node": body}})
    return plan.model_copy(update={"nodes": nodes})


PINNED_MEMO = "pinned"
"""The run's memo key of `pinned_versions(plan)`: what `GET /v1/executions/{id}` shows."""
PINNED_REFERENCES_MEMO = "pinned_references"
"""The memo key of what a run that pinned itself resolved (`PinOutput.versions`): a retry of
it pins its input, which still names the aliases, to the same versions."""


def pinned_versions(plan: ExecutionPlan) -> dict[str, dict[str, str]]:
    """Node id -> {kind: `name@version`} for every pinned reference of the plan."""
    pinned: dict[str, dict[str, str]] = {}
    for node_id, config in llm_configs(plan):
        for kind, (field, version_field) in FIELDS.items():
            reference, version = config.get(field), config.get(version_field)
            if isinstance(reference, str) and version is not None:
                pinned.setdefault(node_id, {})[kind] = f"{reference.partition('@')[0]}@{version}"
    return pinned
