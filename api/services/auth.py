"""Signing in and out: password login, refresh-token rotation, logout, the caller's identity.

The rules themselves (rate limits, rotation, reuse detection) are the kernel's
(`auterity.security.login`, `auterity.security.authentication`); this module turns
their refusals into problems and puts what happened on the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.problems import Forbidden, TooManyRequests, Unauthorized, Unprocessable
from api.schemas.auth import LoginBody, PasswordChange, TokenPair
from api.schemas.users import PasswordSet
from auterity import audit, metrics
from auterity.db import transaction
from auterity.models.identity import AuthSession
from auterity.models.tenancy import Tenant, User
from auterity.secrets import bind_keyring, keyring
from auterity.security import ratelimit
from auterity.security.accounts import tenant_by_id
from auterity.security.authentication import (
    AuthenticationFailed,
    RefreshTokenReused,
    revoke_session,
    revoke_sessions_everywhere,
    rotate_refresh_token,
)
from auterity.security.login import LoginRefused, password_login
from auterity.security.passwords import hash_password, verify_password, weakness
from auterity.security.principal import Actor, Principal
from auterity.settings import Settings

REFRESH_REFUSED = "the refresh token is invalid, expired or revoked"


@dataclass(frozen=True)
class Caller:
    """Who is calling, with their tenant."""

    principal: Principal
    tenant: Tenant


def login(
    sessions: sessionmaker[Session],
    settings: Settings,
    body: LoginBody,
    context: audit.AuditContext,
) -> TokenPair:
    """Tokens for a correct password; 401, 403 (the tenant requires SSO), 422 (which
    tenant?) or 429 (too many failures)."""
    try:
        result = password_login(
            sessions,
            settings,
            email=body.email,
            password=body.password,
            tenant_slug=body.tenant,
            request=context,
            now=datetime.now(UTC),
        )
    except LoginRefused as refused:
        if refused.status == 429:
            retry_after = str(refused.retry_after or 60)
            raise TooManyRequests(refused.detail, headers={"Retry-After": retry_after}) from None
        if refused.status == 422:
            raise Unprocessable(refused.detail, errors=refused.errors) from None
        if refused.status == 403:  # the tenant requires SSO
            raise Forbidden(refused.detail) from None
        raise Unauthorized(refused.detail) from None
    return TokenPair(
        access_token=result.tokens.access_token,
        refresh_token=result.tokens.refresh_token,
        tenant=result.tenant.slug,
    )


def refresh(
    sessions: sessionmaker[Session],
    settings: Settings,
    refresh_token: str,
    context: audit.AuditContext,
) -> TokenPair:
    """Rotate a refresh token; a reused one revokes its session (recorded) and is a 401."""
    reused: RefreshTokenReused | None = None
    try:
        with transaction(sessions) as session:
            bind_keyring(session, keyring(settings))
            try:
                issued, principal = rotate_refresh_token(
                    session, settings, refresh_token, datetime.now(UTC)
                )
            except RefreshTokenReused as exc:
                reused = exc
                audit.record(
                    session,
                    Actor(type="user", id=exc.user_id),
                    "auth.refresh_token_reused",
                    targets=[audit.Target("session", exc.session_id)],
                    details={"revoked": "session"},
                    request=context,
                    outcome=audit.Outcome.DENIED,
                )
    except AuthenticationFailed as exc:
        metrics.token_refused(*metrics.token_refusal(f"refresh token {exc.reason}"))
        raise Unauthorized(REFRESH_REFUSED) from None
    if reused is not None:
        metrics.token_refused("refresh", "reused")
        raise Unauthorized(REFRESH_REFUSED)
    return TokenPair(
        access_token=issued.access_token,
        refresh_token=issued.refresh_token,
        tenant=principal.tenant_slug,
    )


def logout(session: Session, principal: Principal, context: audit.AuditContext) -> None:
    """End the caller's session; an API key has none (422)."""
    if principal.session_id is None:
        raise Unprocessable("API keys have no session; revoke them through /v1/api-keys")
    auth = session.scalars(select(AuthSession).where(AuthSession.id == principal.session_id)).one()
    revoke_session(session, auth, "logout", datetime.now(UTC))
    audit.record(
        session,
        principal,
        "auth.logout",
        targets=[audit.Target("session", auth.id)],
        request=context,
    )


def caller(session: Session, principal: Principal) -> Caller:
    tenant = tenant_by_id(session, principal.tenant_id)
    assert tenant is not None
    return Caller(principal, tenant)


def change_password(
    session: Session,
    principal: Principal,
    body: PasswordChange,
    context: audit.AuditContext,
) -> PasswordSet:
    """The caller changes their own password, proving the current one; every session of
    theirs ends, in every tenant (this one too: sign in again). Wrong guesses count
    towards the login rate limit."""
    if principal.kind != "user" or principal.user_id is None:
        raise Forbidden("an API key has no password")
    user = session.scalars(select(User).where(User.id == principal.user_id)).one()
    now = datetime.now(UTC)
    address = context.ip or "unknown"
    wait = ratelimit.retry_after(session, user.email, address, now)
    if wait is not None:
        raise TooManyRequests(
            "too many wrong passwords; try again later", headers={"Retry-After": str(wait)}
        )
    if not verify_password(body.current_password, user.password_hash):
        # The guess is counted although the answer is an error: commit it here.
        ratelimit.record_failure(session, user.email, address, now)
        session.commit()
        raise Forbidden("current_password: not your current password")
    if problem := weakness(body.new_password):
        raise Unprocessable(
            f"new_password: {problem}", errors=[{"loc": ["body", "new_password"], "msg": problem}]
        )
    if body.new_password == body.current_password:
        message = "must differ from the current password"
        raise Unprocessable(
            f"new_password: {message}", errors=[{"loc": ["body", "new_password"], "msg": message}]
        )
    user.password_hash = hash_password(body.new_password)
    ended = revoke_sessions_everywhere(session, user.id, "password_changed", now)
    ratelimit.clear_account(session, user.email)
    session.flush()
    audit.record(
        session,
        principal,
        "users.password_changed",
        targets=[audit.Target("user", user.id, user.email)],
        details={"sessions_ended": ended},
        request=context,
    )
    return PasswordSet(sessions_ended=ended)
