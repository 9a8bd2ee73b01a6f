"""API keys: machine credentials scoped to permissions, shown once, revocable."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.auth import UsersManager
from api.deps import SessionDep
from api.schemas.api_keys import ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyRead
from api.services import api_keys as service
from auterity.audit import AuditContext

router = APIRouter(prefix="/api-keys", tags=["api-keys"])


@router.get("")
def list_api_keys(principal: UsersManager, session: SessionDep) -> ApiKeyList:
    """The tenant's API keys (never their secrets), newest first."""
    keys = service.list_api_keys(session)
    return ApiKeyList(items=[ApiKeyRead.model_validate(key, from_attributes=True) for key in keys])


@router.post("", status_code=201)
def create_api_key(
    body: ApiKeyCreate, principal: UsersManager, session: SessionDep, request: Request
) -> ApiKeyCreated:
    """A new key with scopes you hold; the response is the only time the key is shown."""
    key, secret = service.create_api_key(session, principal, body, AuditContext.of(request))
    read = ApiKeyRead.model_validate(key, from_attributes=True)
    return ApiKeyCreated(**read.model_dump(exclude_computed_fields=True), key=secret)


@router.get("/{key_id}")
def read_api_key(key_id: str, principal: UsersManager, session: SessionDep) -> ApiKeyRead:
    """One API key's metadata."""
    return ApiKeyRead.model_validate(service.get_api_key(session, key_id), from_attributes=True)


@router.delete("/{key_id}", status_code=204)
def revoke_api_key(
    key_id: str, principal: UsersManager, session: SessionDep, request: Request
) -> Response:
    """Revoke a key; it stops working at once. Revoking twice is harmless."""
    service.revoke_api_key(session, principal, key_id, AuditContext.of(request))
    return Response(status_code=204)
