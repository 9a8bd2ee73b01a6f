"""API keys: created by people with scopes they hold, stored as a hash, revocable at once."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import ensure_permissions_held
from api.problems import Forbidden, Unprocessable
from api.schemas.api_keys import ApiKeyCreate
from api.services import one_or_404
from auterity import audit
from auterity.models.identity import ApiKey
from auterity.security.principal import Principal
from auterity.security.tokens import digest, new_api_key


def list_api_keys(session: Session) -> list[ApiKey]:
    """The tenant's API keys, newest first."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at.desc())))


def get_api_key(session: Session, key_id: str) -> ApiKey:
    return one_or_404(session, ApiKey, key_id, f"API key {key_id}")


def create_api_key(
    session: Session, principal: Principal, body: ApiKeyCreate, context: audit.AuditContext
) -> tuple[ApiKey, str]:
    """A new key with scopes the caller holds, and its secret (which is not stored)."""
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
        request=context,
    )
    return key, secret


def revoke_api_key(
    session: Session, principal: Principal, key_id: str, context: audit.AuditContext
) -> None:
    """Revoke a key; it stops working at once. Revoking twice is harmless."""
    key = get_api_key(session, key_id)
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
        session.flush()
        audit.record(
            session,
            principal,
            "api_keys.revoked",
            targets=[audit.Target("api_key", key.id, key.name)],
            request=context,
        )
