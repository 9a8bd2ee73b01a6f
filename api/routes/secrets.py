"""Tenant secrets: values go in and never come out (only activities read them)."""

from __future__ import annotations

import re
from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select

from api.auth import SecretsManager
from api.deps import SessionDep
from api.problems import Conflict, NotFound, Unprocessable
from auterity import audit
from auterity import secrets as store
from auterity.models.secrets import Secret
from auterity.security.principal import Principal

router = APIRouter(prefix="/v1/secrets", tags=["secrets"])
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class _Value(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str = Field(min_length=1, description="write-only")
    description: str | None = Field(default=None, max_length=2000)

    @field_validator("value")
    @classmethod
    def _bounded(cls, value: str) -> str:
        if len(value.encode()) > store.MAX_VALUE_BYTES:
            raise ValueError(f"must be at most {store.MAX_VALUE_BYTES} bytes")
        return value


class SecretCreate(_Value):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "SLACK_WEBHOOK_URL",
                    "value": "https://hooks.slack.com/services/T000/B000/XXXXXXXX",
                    "description": "Incoming webhook of #ops",
                }
            ]
        }
    )

    name: str = Field(description="referenced in graphs as {{ secrets.<name> }}")

    @field_validator("name")
    @classmethod
    def _identifier(cls, name: str) -> str:
        if not store.SECRET_NAME.match(name):
            raise ValueError("must be a letter or '_' then letters, digits or '_' (≤ 128)")
        return name


class SecretUpdate(_Value):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"value": "https://hooks.slack.com/services/T000/B000/YYYYYYYY"},
                {"value": "sk-live-rotated-2f9c", "description": "Rotated by the on-call"},
            ]
        }
    )


class SecretRead(BaseModel):
    id: str
    name: str
    description: str
    version: int
    created_by: str | None
    created_at: datetime
    updated_at: datetime


class SecretList(BaseModel):
    items: list[SecretRead]


def _read(row: Secret) -> SecretRead:
    return SecretRead(
        id=row.id,
        name=row.name,
        description=row.description,
        version=row.version,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _find(session: SessionDep, ref: str) -> Secret | None:
    """A secret by id, or by name (names cannot look like ids)."""
    column = Secret.id if _UUID.match(ref) else Secret.name
    return session.scalars(select(Secret).where(column == ref)).one_or_none()


def _found(session: SessionDep, ref: str) -> Secret:
    row = _find(session, ref)
    if row is None:
        raise NotFound(f"secret {ref} not found")
    return row


def _record(
    session: SessionDep, principal: Principal, action: str, row: Secret, request: Request
) -> None:
    audit.record(
        session,
        principal,
        action,
        targets=[audit.Target("secret", row.id, row.name)],
        details={"version": row.version},
        request=request,
    )


@router.get("")
def list_secrets(principal: SecretsManager, session: SessionDep) -> SecretList:
    """The tenant's secrets by name, without values."""
    rows = session.scalars(select(Secret).order_by(Secret.name)).all()
    return SecretList(items=[_read(row) for row in rows])


@router.post("", status_code=201)
def create_secret(
    body: SecretCreate, principal: SecretsManager, session: SessionDep, request: Request
) -> SecretRead:
    """Store a new secret; 409 if the name is taken (PUT /v1/secrets/{name} replaces)."""
    if store.by_name(session, body.name) is not None:
        raise Conflict(f"secret {body.name!r} exists; PUT /v1/secrets/{body.name} replaces it")
    row, _ = store.put(
        session,
        body.name,
        body.value,
        description=body.description,
        created_by=principal.user_id,
    )
    _record(session, principal, "secrets.created", row, request)
    return _read(row)


@router.get("/{secret_ref}")
def read_secret(secret_ref: str, principal: SecretsManager, session: SessionDep) -> SecretRead:
    """One secret's metadata (by id or name); the value is never returned."""
    return _read(_found(session, secret_ref))


@router.put("/{secret_ref}")
def put_secret(
    secret_ref: str,
    body: SecretUpdate,
    principal: SecretsManager,
    session: SessionDep,
    request: Request,
    response: Response,
) -> SecretRead:
    """Replace a secret's value (by id or name); a new name creates the secret (201)."""
    existing = _find(session, secret_ref)
    if existing is None and not store.SECRET_NAME.match(secret_ref):
        if _UUID.match(secret_ref):
            raise NotFound(f"secret {secret_ref} not found")
        raise Unprocessable(
            "secret_ref: not a secret id or a valid secret name",
            errors=[{"loc": ["path", "secret_ref"], "msg": "not an id or a valid name"}],
        )
    name = existing.name if existing else secret_ref
    row, created = store.put(
        session, name, body.value, description=body.description, created_by=principal.user_id
    )
    if created:
        response.status_code = 201
    _record(session, principal, "secrets.created" if created else "secrets.updated", row, request)
    return _read(row)


@router.delete("/{secret_ref}", status_code=204)
def delete_secret(
    secret_ref: str, principal: SecretsManager, session: SessionDep, request: Request
) -> Response:
    """Delete a secret; graphs that reference it fail validation from now on."""
    row = _found(session, secret_ref)
    _record(session, principal, "secrets.deleted", row, request)
    session.delete(row)
    session.flush()
    return Response(status_code=204)
