"""API keys: machine credentials scoped to permissions, shown once, revocable."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select

from api.auth import UsersManager, ensure_permissions_held
from api.deps import SessionDep
from api.problems import Forbidden, NotFound, Unprocessable
from auterity import audit
from auterity.models.identity import ApiKey
from auterity.security.tokens import API_KEY_PREFIX, digest, new_api_key

router = APIRouter(prefix="/v1/api-keys", tags=["api-keys"])


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "ci deploys",
                    "scopes": ["graphs:read", "graphs:write", "executions:start"],
                    "expires_at": "2030-01-01T00:00:00Z",
                },
                {"name": "dashboard", "scopes": ["executions:read"]},
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    scopes: list[str] = Field(min_length=1, description="permissions; each must be yours")
    expires_at: AwareDatetime | None = Field(default=None, description="never expires if omitted")


class ApiKeyRead(BaseModel):
    id: str
    name: str
    prefix: str
    scopes: list[str]
    created_by: str | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="`Authorization: Bearer <key>`; shown this once only")


class ApiKeyList(BaseModel):
    items: list[ApiKeyRead]


def _read(key: ApiKey) -> ApiKeyRead:
    return ApiKeyRead(
        id=key.id,
        name=key.name,
        prefix=f"{API_KEY_PREFIX}{key.id}",
        scopes=sorted(key.scopes),
        created_by=key.created_by,
        created_at=key.created_at,
        expires_at=key.expires_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
    )


def _find(session: SessionDep, key_id: str) -> ApiKey:
    key = session.scalars(select(ApiKey).where(ApiKey.id == key_id)).one_or_none()
    if key is None:
        raise NotFound(f"API key {key_id} not found")
    return key


@router.get("")
def list_api_keys(principal: UsersManager, session: SessionDep) -> ApiKeyList:
    """The tenant's API keys (never their secrets), newest first."""
    keys = session.scalars(select(ApiKey).order_by(ApiKey.created_at.desc())).all()
    return ApiKeyList(items=[_read(key) for key in keys])


@router.post("", status_code=201)
def create_api_key(
    body: ApiKeyCreate, principal: UsersManager, session: SessionDep, request: Request
) -> ApiKeyCreated:
    """A new key with scopes you hold; the response is the only time the key is shown."""
    if principal.kind != "user":
        raise Forbidden("API keys are created by people, not by other API keys")
    scopes = ensure_permissions_held(principal, body.scopes, field="scopes")
    if body.expires_at is not None and body.expires_at <= datetime.now(UTC):
        raise Unprocessable(
            "expires_at: must be in the future",
            errors=[{"loc": ["body", "expires_at"], "msg": "must be in the future"}],
        )
    key_id, secret = new_api_key()
    key = ApiKey(
        id=key_id,
        name=body.name,
        key_hash=digest(secret),
        scopes=scopes,
        created_by=principal.user_id,
        expires_at=body.expires_at,
    )
    session.add(key)
    session.flush()
    audit.record(
        session,
        principal,
        "api_keys.created",
        targets=[audit.Target("api_key", key.id, key.name)],
        details={"scopes": scopes, "expires_at": body.expires_at},
        request=request,
    )
    return ApiKeyCreated(**_read(key).model_dump(), key=secret)


@router.get("/{key_id}")
def read_api_key(key_id: str, principal: UsersManager, session: SessionDep) -> ApiKeyRead:
    """One API key's metadata."""
    return _read(_find(session, key_id))


@router.delete("/{key_id}", status_code=204)
def revoke_api_key(
    key_id: str, principal: UsersManager, session: SessionDep, request: Request
) -> Response:
    """Revoke a key; it stops working at once. Revoking twice is harmless."""
    key = _find(session, key_id)
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
        session.flush()
        audit.record(
            session,
            principal,
            "api_keys.revoked",
            targets=[audit.Target("api_key", key.id, key.name)],
            request=request,
        )
    return Response(status_code=204)
