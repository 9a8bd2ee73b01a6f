"""The registry of prompts and models: versions are appended, never changed; aliases move,
each move audited with where it pointed before."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.problems import Conflict, NotFound, Unprocessable
from api.schemas.registry import RegistryEntryRead, RegistryVersionRead
from auterity import audit
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
