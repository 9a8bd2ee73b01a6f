"""The registry of prompts and models: versions are appended, never changed; aliases move,
each move audited with where it pointed before."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.problems import Conflict, NotFound, Unprocessable
from api.schemas.registry import CASE_KEY, RegistryEntryRead, RegistryVersionRead
from auterity import audit
from auterity.gateway import registry
from auterity.gateway.registry import ALIAS_NAME, RegistryKind, entry
from auterity.models.base import utcnow
from auterity.models.gateway import RegistryAlias, RegistryEntry, RegistryVersion
from auterity.security.principal import Principal


def list_entries(session: Session, kind: RegistryKind) -> list[RegistryEntryRead]:
    rows = session.scalars(
        select(RegistryEntry).where(RegistryEntry.kind == kind).order_by(RegistryEntry.name)
    )
    return [read_entry(session, row) for row in rows]


def get_entry(session: Session, kind: RegistryKind, name: str) -> RegistryEntry:
    row = entry(session, kind, name)
    if row is None:
        raise NotFound(f"{kind} {name!r} not found")
    return row


def read_entry(session: Session, row: RegistryEntry) -> RegistryEntryRead:
    versions = session.scalars(
        select(RegistryVersion)
        .where(RegistryVersion.entry_id == row.id)
        .order_by(RegistryVersion.version)
    )
    aliases = session.scalars(select(RegistryAlias).where(RegistryAlias.entry_id == row.id))
    return RegistryEntryRead(
        id=row.id,
        kind=row.kind,
        name=row.name,
        versions=[
            RegistryVersionRead(
                version=v.version, spec=v.spec, created_by=v.created_by, created_at=v.created_at
            )
            for v in versions
        ],
        aliases={a.alias: a.version for a in sorted(aliases, key=lambda a: a.alias)},
        created_at=row.created_at,
    )


def create_entry(
    session: Session,
    principal: Principal,
    kind: RegistryKind,
    name: str,
    spec: dict[str, Any],
    context: audit.AuditContext,
) -> RegistryEntry:
    """A new entry with version 1; 409 if the name is taken."""
    if entry(session, kind, name) is not None:
        raise Conflict(f"{kind} {name!r} exists; POST .../{name}/versions adds a version")
    row = RegistryEntry(kind=str(kind), name=name, created_by=principal.user_id)
    session.add(row)
    session.flush()
    add_version(session, principal, row, spec, context)
    return row


def add_version(
    session: Session,
    principal: Principal,
    row: RegistryEntry,
    spec: dict[str, Any],
    context: audit.AuditContext,
) -> int:
    """Append an immutable version; its number."""
    last = session.scalar(
        select(func.max(RegistryVersion.version)).where(RegistryVersion.entry_id == row.id)
    )
    version = (last or 0) + 1
    session.add(
        RegistryVersion(entry_id=row.id, version=version, spec=spec, created_by=principal.user_id)
    )
    session.flush()
    audit.record(
        session, principal, f"registry.{row.kind}.version_created",
        targets=[audit.Target(f"registry_{row.kind}", row.id, row.name)],
        details={"version": version, "spec": spec}, request=context,
    )  # fmt: skip
    return version


def move_alias(
    session: Session,
    principal: Principal,
    row: RegistryEntry,
    alias: str,
    version: int,
    context: audit.AuditContext,
) -> None:
    """Point `alias` at `version` (created on first use); runs already started keep theirs."""
    if not ALIAS_NAME.match(alias):
        raise Unprocessable(
            "alias: not an alias name",
            errors=[{"loc": ["path", "alias"], "msg": "a letter then letters, digits, _ . -"}],
        )
    exists = session.scalar(
        select(RegistryVersion.id).where(
            RegistryVersion.entry_id == row.id, RegistryVersion.version == version
        )
    )
    if exists is None:
        raise Unprocessable(
            f"version: {row.kind} {row.name!r} has no version {version}",
            errors=[{"loc": ["body", "version"], "msg": f"no version {version}"}],
        )
    current = session.scalars(
        select(RegistryAlias).where(RegistryAlias.entry_id == row.id, RegistryAlias.alias == alias)
    ).one_or_none()
    before = current.version if current is not None else None
    if current is None:
        session.add(
            RegistryAlias(
                entry_id=row.id, alias=alias, version=version, updated_by=principal.user_id
            )
        )
    else:
        current.version = version
        current.updated_by = principal.user_id
        current.updated_at = utcnow()
    session.flush()
    audit.record(
        session, principal, f"registry.{row.kind}.alias_moved",
        targets=[audit.Target(f"registry_{row.kind}", row.id, row.name)],
        details={"alias": alias, "from": before, "to": version}, request=context,
    )  # fmt: skip


def comparison_graph(
    name: str, versions: list[int], cases: list[dict[str, Any]], route: str | None
) -> dict[str, Any]:
    """A graph calling each version on every case (`a_<i>`, `b_<i>`), joined by `results`:
    a list of {case, a, b}. The cases are the run's inputs, so what they hold is data:
    each variable reads `inputs.cases[<i>].<name>`, never a template of its own."""
    nodes: list[dict[str, Any]] = []
    rows = []
    for index, case in enumerate(cases):
        for side, version in zip("ab", versions, strict=True):
            config: dict[str, Any] = {
                "prompt_ref": f"{name}@{version}",
                "variables": {key: f"{{{{ inputs.cases[{index}].{key} }}}}" for key in case},
            }
            if route is not None:
                config["route"] = route
            nodes.append({"id": f"{side}_{index}", "type": "llm", "config": config})
        rows.append(
            f'{{"case": inputs.cases[{index}], "a": nodes.a_{index}.output, '
            f'"b": nodes.b_{index}.output}}'
        )
    nodes.append({"id": "join", "type": "merge", "config": {"mode": "all"}})
    nodes.append(
        {"id": "results", "type": "transform", "config": {"expression": f"[{', '.join(rows)}]"}}
    )
    edges = [{"from": node["id"], "to": "join"} for node in nodes[:-2]]
    edges.append({"from": "join", "to": "results"})
    return {
        "name": f"compare {name} v{versions[0]} vs v{versions[1]}",
        "description": f"Prompt {name!r}, versions {versions[0]} and {versions[1]}, "
        f"on {len(cases)} case(s), side by side in the output of `results`.",
        "inputs": {
            "type": "object",
            "properties": {"cases": {"type": "array", "items": {"type": "object"}}},
            "required": ["cases"],
        },
        "nodes": nodes,
        "edges": edges,
    }


def resolve_versions(session: Session, name: str, refs: list[str]) -> list[int]:
    """The versions `refs` name now; a 422 naming the one that names nothing."""
    versions = []
    for index, ref in enumerate(refs):
        try:
            versions.append(registry.resolve(session, RegistryKind.PROMPT, f"{name}@{ref}"))
        except registry.UnknownReference as exc:
            raise Unprocessable(
                f"versions[{index}]: {exc}",
                errors=[{"loc": ["body", "versions", index], "msg": str(exc)}],
            ) from None
    return versions


def check_case_keys(cases: list[dict[str, Any]]) -> None:
    for index, case in enumerate(cases):
        for key in case:
            if not re.match(CASE_KEY, key):
                raise Unprocessable(
                    f"cases[{index}]: {key[:64]!r} is not a variable name",
                    errors=[{"loc": ["body", "cases", index, key[:64]],
                             "msg": "a letter or _ then letters, digits or _ (≤ 64)"}],
                )  # fmt: skip
