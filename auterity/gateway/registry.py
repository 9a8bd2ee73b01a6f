"""The registry of prompts and models: immutable numbered versions and movable aliases.

An llm node names a prompt as `prompt_ref: "<name>@<alias or version>"`. When a run
starts, `pin_prompts` resolves each reference once and writes the version into the node's
config in the run's plan (`prompt_version`), which Temporal keeps with the run: moving an
alias later changes only runs started after. The activity reads that version's spec.
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


def pin_prompts(session: Session, plan: ExecutionPlan) -> tuple[ExecutionPlan, dict[str, str]]:
    """The plan with every llm node's `prompt_ref` pinned to the version it names now (the
    llm node a `foreach` runs per item too), and what was pinned (node id ->
    `name@version`); `UnknownReference` naming the node."""
    pinned: dict[str, str] = {}
    nodes = dict(plan.nodes)

    def pin(node_id: str, config: dict[str, Any]) -> dict[str, Any]:
        reference = config["prompt_ref"]
        going_online(session)  # aliases are read fresh, never from the tenant cache
        try:
            version = resolve(session, RegistryKind.PROMPT, reference)
        except UnknownReference as exc:
            raise UnknownReference(f"node {node_id!r}: prompt_ref: {exc}") from None
        pinned[node_id] = f"{parse_reference(reference)[0]}@{version}"
        return {**config, "prompt_version": version}

    for node_id, node in plan.nodes.items():
        if node.kind == "llm" and isinstance(node.config.get("prompt_ref"), str):
            nodes[node_id] = node.model_copy(update={"config": pin(node_id, node.config)})
            continue
        body = node.config.get("node") if node.kind == "foreach" else None
        inner = body.get("config") if isinstance(body, dict) else None
        if (
            isinstance(body, dict)
            and body.get("type") == "llm"
            and isinstance(inner, dict)
            and isinstance(inner.get("prompt_ref"), str)
        ):
            each = {**body, "config": pin(node_id, inner)}
            nodes[node_id] = node.model_copy(update={"config": {**node.config, "node": each}})
    if not pinned:
        return plan, pinned
    return plan.model_copy(update={"nodes": nodes}), pinned


class RegistryStore:
    """The `llm` activity's source of prompt versions (tenant = slug)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    async def prompt(self, tenant: str, name: str, version: int) -> PromptSpec | None:
        return await asyncio.to_thread(self._prompt, tenant, name, version)

    def _prompt(self, tenant_slug: str, name: str, version: int) -> PromptSpec | None:
        with transaction(self.sessions) as session:
            tenant_id = tenant_id_of(session, tenant_slug)
            if tenant_id is None:
                return None
            set_tenant(session, tenant_id)
            row = entry(session, RegistryKind.PROMPT, name)
            spec = spec_of(session, row.id, version) if row is not None else None
            return PromptSpec.model_validate(spec) if spec is not None else None
