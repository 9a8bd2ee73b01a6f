"""The registry of prompts and models: immutable numbered versions and movable aliases.

An llm node names a prompt as `prompt_ref: "<name>@<alias or version>"` and a model as
`model_ref`. When a run starts, `pin_references` resolves each reference once and writes the
version into the node's config in the run's plan (`prompt_version`, `model_version`; see
`auterity.graph.references`), which Temporal keeps with the run: moving an alias later
changes only runs started after. The activity reads that version's spec.
"""

from __future__ import annotations

import asyncio
import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from auterity.cache import going_online
from auterity.db import transaction
from auterity.gateway.store import tenant_id_of
from auterity.graph.compiler import ExecutionPlan
from auterity.graph.model import Graph
from auterity.graph.references import FIELDS, RegistryReference, llm_configs, pin
from auterity.graph.validation import GraphIssue
from auterity.models.gateway import RegistryAlias, RegistryEntry, RegistryVersion
from auterity.security.scoping import set_tenant

ENTRY_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,99}$")
ALIAS_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
REFERENCE = re.compile(r"^(?P<name>[A-Za-z][A-Za-z0-9_.-]{0,99})@(?P<ref>[A-Za-z0-9_.-]{1,64})$")


class RegistryKind(StrEnum):
    PROMPT = "prompt"
    MODEL = "model"


class PromptSpec(BaseModel):
    """One version of a prompt: its template (rendered like a node's `prompt`, over the
    node's scope) and the settings the node uses unless it sets its own."""

    model_config = ConfigDict(extra="forbid")

    template: str = Field(min_length=1, max_length=100_000)
    system: str | None = Field(default=None, max_length=100_000)
    route: str | None = Field(default=None, description="Route the node uses if it names none")
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)
    response_schema: dict[str, Any] | None = None


class ModelSpec(BaseModel):
    """One version of a model: the route it is served by and its settings."""

    model_config = ConfigDict(extra="forbid")

    route: str = Field(min_length=1, max_length=100)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)
    description: str | None = Field(default=None, max_length=2000)


SPECS: dict[RegistryKind, type[BaseModel]] = {
    RegistryKind.PROMPT: PromptSpec,
    RegistryKind.MODEL: ModelSpec,
}


class UnknownReference(ValueError):
    """A reference that names no entry, alias or version of the tenant."""


def parse_reference(reference: str) -> tuple[str, str]:
    match = REFERENCE.match(reference)
    if match is None:
        raise UnknownReference(f"{reference!r} is not <name>@<alias or version>")
    return match.group("name"), match.group("ref")


def entry(session: Session, kind: RegistryKind, name: str) -> RegistryEntry | None:
    return session.scalars(
        select(RegistryEntry).where(RegistryEntry.kind == kind, RegistryEntry.name == name)
    ).one_or_none()


def resolve(session: Session, kind: RegistryKind, reference: str) -> int:
    """The version `<name>@<alias or version>` names now in the session's tenant."""
    name, ref = parse_reference(reference)
    row = entry(session, kind, name)
    if row is None:
        raise UnknownReference(f"unknown {kind} {name!r}")
    if ref.isdigit():
        version = int(ref)
    else:
        alias = session.scalars(
            select(RegistryAlias).where(
                RegistryAlias.entry_id == row.id, RegistryAlias.alias == ref
            )
        ).one_or_none()
        if alias is None:
            raise UnknownReference(f"{kind} {name!r} has no alias {ref!r}")
        version = alias.version
    if spec_of(session, row.id, version) is None:
        raise UnknownReference(f"{kind} {name!r} has no version {version}")
    return version


def spec_of(session: Session, entry_id: str, version: int) -> dict[str, Any] | None:
    return session.scalars(
        select(RegistryVersion.spec).where(
            RegistryVersion.entry_id == entry_id, RegistryVersion.version == version
        )
    ).one_or_none()


def resolve_all(session: Session, wanted: list[RegistryReference]) -> dict[str, int]:
    """The version each reference names now (by `RegistryReference.key()`), aliases read
    fresh; `UnknownReference` naming the field of the first that names nothing."""
    going_online(session)  # aliases are read fresh, never from the tenant cache
    versions: dict[str, int] = {}
    for named in wanted:
        try:
            versions[named.key()] = resolve(session, RegistryKind(named.kind), named.reference)
        except UnknownReference as exc:
            raise UnknownReference(f"{FIELDS[named.kind][0]}: {exc}") from None
    return versions


def reference_issues(session: Session, graph: Graph) -> list[GraphIssue]:
    """A graph's `prompt_ref`s and `model_ref`s that name no entry of the session's tenant
    (or no such version), each naming the node and field; aliases are checked when a run
    starts, as they may be set after the graph is saved."""
    issues: list[GraphIssue] = []
    for node in graph.nodes:
        config, where = node.config, "config"
        if node.type == "foreach" and isinstance(config.get("node"), dict):
            config, where = config["node"].get("config"), "config.node.config"
        elif node.type != "llm":
            continue
        if not isinstance(config, dict):
            continue
        for kind, (field, _version_field) in FIELDS.items():
            reference = config.get(field)
            if not isinstance(reference, str) or REFERENCE.match(reference) is None:
                continue  # absent, or malformed: the config's own validation says so
            name, ref = parse_reference(reference)
            row = entry(session, RegistryKind(kind), name)
            if row is None:
                message = f"unknown {kind} {name!r}"
            elif ref.isdigit() and spec_of(session, row.id, int(ref)) is None:
                message = f"{kind} {name!r} has no version {ref}"
            else:
                continue
            issues.append(GraphIssue(node=node.id, field=f"{where}.{field}", message=message))
    return issues


def pin_references(session: Session, plan: ExecutionPlan) -> ExecutionPlan:
    """The plan with every llm call's `prompt_ref` and `model_ref` pinned to the version it
    names now; `UnknownReference` naming the node and field."""
    versions: dict[str, int] = {}
    for node_id, config in llm_configs(plan):
        for kind, (field, version_field) in FIELDS.items():
            reference = config.get(field)
            if not isinstance(reference, str) or config.get(version_field) is not None:
                continue
            named = RegistryReference(kind=kind, reference=reference)
            if named.key() in versions:
                continue
            try:
                versions.update(resolve_all(session, [named]))
            except UnknownReference as exc:
                raise UnknownReference(f"node {node_id!r}: {exc}") from None
    return pin(plan, versions)


class RegistryStore:
    """The worker's view of the registry (tenant = slug): the versions runs pin, and the
    specs of pinned versions the `llm` activity reads."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    async def prompt(self, tenant: str, name: str, version: int) -> PromptSpec | None:
        spec = await asyncio.to_thread(self._spec, tenant, RegistryKind.PROMPT, name, version)
        return PromptSpec.model_validate(spec) if spec is not None else None

    async def model(self, tenant: str, name: str, version: int) -> ModelSpec | None:
        spec = await asyncio.to_thread(self._spec, tenant, RegistryKind.MODEL, name, version)
        return ModelSpec.model_validate(spec) if spec is not None else None

    async def resolve(self, tenant: str, wanted: list[RegistryReference]) -> dict[str, int]:
        """What `resolve_all` answers in the tenant's registry; `UnknownReference` for an
        unknown tenant too."""
        return await asyncio.to_thread(self._resolve, tenant, wanted)

    def _resolve(self, tenant_slug: str, wanted: list[RegistryReference]) -> dict[str, int]:
        with transaction(self.sessions) as session:
            tenant_id = tenant_id_of(session, tenant_slug)
            if tenant_id is None:
                raise UnknownReference(f"unknown tenant {tenant_slug!r}")
            set_tenant(session, tenant_id)
            return resolve_all(session, wanted)

    def _spec(
        self, tenant_slug: str, kind: RegistryKind, name: str, version: int
    ) -> dict[str, Any] | None:
        with transaction(self.sessions) as session:
            tenant_id = tenant_id_of(session, tenant_slug)
            if tenant_id is None:
                return None
            set_tenant(session, tenant_id)
            row = entry(session, kind, name)
            return spec_of(session, row.id, version) if row is not None else None
