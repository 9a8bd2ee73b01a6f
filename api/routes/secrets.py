"""Tenant secrets: values go in and never come out (only activities read them)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.auth import SecretsManager
from api.deps import SessionDep
from api.schemas.secrets import SecretCreate, SecretList, SecretRead, SecretUpdate
from api.services import secrets as service
from auterity.audit import AuditContext

router = APIRouter(prefix="/secrets", tags=["secrets"])


@router.get("")
def list_secrets(principal: SecretsManager, session: SessionDep) -> SecretList:
    """The tenant's secrets by name, without values."""
    rows = service.list_secrets(session)
    return SecretList(items=[SecretRead.model_validate(row, from_attributes=True) for row in rows])


@router.post("", status_code=201)
def create_secret(
    body: SecretCreate, principal: SecretsManager, session: SessionDep, request: Request
) -> SecretRead:
    """Store a new secret; 409 if the name is taken (PUT /v1/secrets/{name} replaces)."""
    row = service.create_secret(session, principal, body, AuditContext.of(request))
    return SecretRead.model_validate(row, from_attributes=True)


@router.get("/{secret_ref}")
def read_secret(secret_ref: str, principal: SecretsManager, session: SessionDep) -> SecretRead:
    """One secret's metadata (by id or name); the value is never returned."""
    return SecretRead.model_validate(service.get_secret(session, secret_ref), from_attributes=True)


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
    row, created = service.put_secret(
        session, principal, secret_ref, body, AuditContext.of(request)
    )
    if created:
        response.status_code = 201
    return SecretRead.model_validate(row, from_attributes=True)


@router.delete("/{secret_ref}", status_code=204)
def delete_secret(
    secret_ref: str, principal: SecretsManager, session: SessionDep, request: Request
) -> Response:
    """Delete a secret; graphs that reference it fail validation from now on."""
    service.delete_secret(session, principal, secret_ref, AuditContext.of(request))
    return Response(status_code=204)
