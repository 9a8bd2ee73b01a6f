"""Tenant secrets: sealed at rest by `auterity.secrets`, addressed by id or by name.

Names cannot look like ids, so a reference is an id when it is shaped like one.
Every write and delete is on the audit trail with the secret's version, never its value.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.problems import Conflict, NotFound, Unprocessable
from api.schemas.secrets import SecretCreate, SecretUpdate
from auterity import audit
from auterity import secrets as store
from auterity.models.secrets import Secret
from auterity.security.principal import Principal

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def list_secrets(session: Session) -> list[Secret]:
    """The tenant's secrets by name."""
    return list(session.scalars(select(Secret).order_by(Secret.name)))


def find_secret(session: Session, ref: str) -> Secret | None:
    """A secret by id, or by name (names cannot look like ids)."""
    column = Secret.id if _UUID.match(ref) else Secret.name
    return session.scalars(select(Secret).where(column == ref)).one_or_none()


def get_secret(session: Session, ref: str) -> Secret:
    """A secret by id or name, else 404."""
    row = find_secret(session, ref)
    if row is None:
        raise NotFound(f"secret {ref} not found")
    return row


def create_secret(
    session: Session, principal: Principal, body: SecretCreate, context: audit.AuditContext
) -> Secret:
    """Store a new secret; 409 if the name is taken."""
    if store.by_name(session, body.name) is not None:
        raise Conflict(f"secret {body.name!r} exists; PUT /v1/secrets/{body.name} replaces it")
    row, _ = store.put(
        session,
        body.name,
        body.value,
        description=body.description,
        created_by=principal.user_id,
    )
    _record(session, principal, "secrets.created", row, context)
    return row


def put_secret(
    session: Session,
    principal: Principal,
    ref: str,
    body: SecretUpdate,
    context: audit.AuditContext,
) -> tuple[Secret, bool]:
    """Replace a secret's value (by id or name), or create it under a new name; whether created."""
    existing = find_secret(session, ref)
    if existing is None and not store.SECRET_NAME.match(ref):
        if _UUID.match(ref):
            raise NotFound(f"secret {ref} not found")
        raise Unprocessable(
            "secret_ref: not a secret id or a valid secret name",
            errors=[{"loc": ["path", "secret_ref"], "msg": "not an id or a valid name"}],
        )
    name = existing.name if existing else ref
    row, created = store.put(
        session, name, body.value, description=body.description, created_by=principal.user_id
    )
    _record(session, principal, "secrets.created" if created else "secrets.updated", row, context)
    return row, created


def delete_secret(
    session: Session, principal: Principal, ref: str, context: audit.AuditContext
) -> None:
    """Delete a secret; graphs that reference it fail validation from now on."""
    row = get_secret(session, ref)
    _record(session, principal, "secrets.deleted", row, context)
    session.delete(row)
    session.flush()


def _record(
    session: Session, principal: Principal, action: str, row: Secret, context: audit.AuditContext
) -> None:
    audit.record(
        session,
        principal,
        action,
        targets=[audit.Target("secret", row.id, row.name)],
        details={"version": row.version},
        request=context,
    )
