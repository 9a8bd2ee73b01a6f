"""Turning credentials into a Principal: passwords, access tokens, refresh tokens, API keys.

Every failure raises `AuthenticationFailed` with a reason for the audit trail and
logs; callers answer it with one generic 401, so a response never tells a wrong
password from an unknown account, a revoked key or a token of another tenant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from auterity import cache
from auterity.models.identity import ApiKey, AuthSession, Membership, RefreshToken
from auterity.models.tenancy import Tenant, User
from auterity.security import tokens
from auterity.security.accounts import (
    membership_of,
    memberships_of_user,
    permissions_of,
    tenant_by_id,
)
from auterity.security.clock import as_utc
from auterity.security.principal import Principal
from auterity.security.scoping import current_tenant, set_lookup, set_tenant, unscoped
from auterity.settings import Settings

API_KEY_TOUCH_INTERVAL = timedelta(minutes=1)


class AuthenticationFailed(Exception):
    """A credential was refused; `reason` is for the audit trail, never for the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RefreshTokenReused(AuthenticationFailed):
    """An already rotated refresh token came back: its whole session has been revoked."""

    def __init__(self, tenant: Tenant, user_id: str, session_id: str) -> None:
        super().__init__("refresh token reused; session revoked")
        self.tenant = tenant
        self.user_id = user_id
        self.session_id = session_id


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_at: datetime
    session_id: str


def start_session(
    session: Session, settings: Settings, tenant: Tenant, user: User, now: datetime
) -> IssuedTokens:
    """A new sign-in session for `user` in `tenant` (the session must be scoped to it)."""
    set_tenant(session, tenant.id)
    auth = AuthSession(
        tenant_id=tenant.id, user_id=user.id, expires_at=now + tokens.REFRESH_TOKEN_TTL
    )
    session.add(auth)
    session.flush()
    return _issue(session, settings, auth, now)


def rotate_refresh_token(
    session: Session, settings: Settings, refresh_token: str, now: datetime
) -> tuple[IssuedTokens, Principal]:
    """Trade a refresh token for a new pair; a reused one revokes its session (and raises)."""
    token_hash = tokens.digest(refresh_token)
    set_lookup(session, credential=token_hash)
    row = session.scalars(
        unscoped(select(RefreshToken).where(RefreshToken.token_hash == token_hash))
    ).one_or_none()
    if row is None:
        raise AuthenticationFailed("unknown refresh token")
    tenant = tenant_by_id(session, row.tenant_id)
    if tenant is None:
        raise AuthenticationFailed("refresh token of a deleted tenant")
    set_tenant(session, tenant.id)
    auth = session.scalars(select(AuthSession).where(AuthSession.id == row.session_id)).one()
    if auth.revoked_at is not None:
        raise AuthenticationFailed("refresh token of a revoked session")
    claimed = session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        revoke_session(session, auth, "refresh_token_reuse", now)
        raise RefreshTokenReused(tenant, auth.user_id, auth.id)
    if as_utc(row.expires_at) <= now or as_utc(auth.expires_at) <= now:
        raise AuthenticationFailed("refresh token expired")
    principal = user_principal(session, tenant, auth.user_id, auth.id)
    return _issue(session, settings, auth, now), principal


def revoke_session(session: Session, auth: AuthSession, reason: str, now: datetime) -> None:
    if auth.revoked_at is None:
        auth.revoked_at = now
        auth.revoked_reason = reason
        session.flush()


def revoke_user_sessions(session: Session, user_id: str, reason: str, now: datetime) -> int:
    """End every live session of `user_id` in the session's tenant; the count ended."""
    live = session.scalars(
        select(AuthSession).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
    ).all()
    for auth in live:
        revoke_session(session, auth, reason, now)
    return len(live)


def revoke_sessions_everywhere(session: Session, user_id: str, reason: str, now: datetime) -> int:
    """End every live session of `user_id` in every tenant it belongs to (a password is the
    account's, not a tenant's); the count ended. The session's own tenant stays in scope."""
    home = current_tenant(session)
    set_lookup(session, user_id=user_id)
    ended = 0
    for _membership, tenant in memberships_of_user(session, user_id):
        set_tenant(session, tenant.id)
        ended += revoke_user_sessions(session, user_id, reason, now)
    if home is not None:
        set_tenant(session, home)
    return ended


def authenticate(session: Session, settings: Settings, credential: str, now: datetime) -> Principal:
    """The principal behind a bearer credential (access token or API key); scopes `session`.

    What the database says about a credential is kept in `auterity.cache`, which forgets
    it as soon as a session, key, membership, role, user or tenant changes."""
    if tokens.looks_like_api_key(credential):
        return _api_key_principal(session, credential, now)
    try:
        claims = tokens.decode_access_token(settings, credential)
    except tokens.InvalidToken as exc:
        raise AuthenticationFailed(f"access token refused: {exc}") from None
    # The token is verified, so its tenant scopes the session before anything is read.
    set_tenant(session, claims.tenant_id)
    return cache.cached(
        session, claims.tenant_id, ("session", claims.session_id, claims.user_id),
        lambda: _session_principal(session, claims.tenant_id, claims.session_id, claims.user_id),
    )  # fmt: skip


def _session_principal(
    session: Session, tenant_id: str, session_id: str, user_id: str
) -> Principal:
    """Tenant, sign-in session, user and membership, in one query."""
    row = (
        session.execute(
            select(Tenant, AuthSession, User, Membership)
            .join(AuthSession, AuthSession.tenant_id == Tenant.id)
            .join(User, User.id == AuthSession.user_id)
            .outerjoin(
                Membership, (Membership.user_id == User.id) & (Membership.tenant_id == Tenant.id)
            )
            .where(Tenant.id == tenant_id, AuthSession.id == session_id)
            .options(joinedload(Membership.role_links))
        )
        .unique()
        .one_or_none()
    )
    if row is None:
        raise AuthenticationFailed("access token of an unknown tenant or session")
    tenant, auth, user, membership = row
    if auth.user_id != user_id:
        raise AuthenticationFailed("access token of an unknown session")
    if auth.revoked_at is not None:
        raise AuthenticationFailed("access token of a revoked session")
    _check_active(user, membership)
    return _user_principal(session, tenant, user, membership, auth.id)


def user_principal(
    session: Session, tenant: Tenant, user_id: str, session_id: str | None
) -> Principal:
    """A user's principal in `tenant`, if the user and the membership are both active."""
    user, membership = _active_member(session, user_id)
    return _user_principal(session, tenant, user, membership, session_id)


def _user_principal(
    session: Session, tenant: Tenant, user: User, membership: Membership, session_id: str | None
) -> Principal:
    return Principal(
        kind="user",
        id=user.id,
        name=user.email,
        tenant_id=tenant.id,
        tenant_slug=tenant.slug,
        permissions=permissions_of(session, membership.roles),
        user_id=user.id,
        session_id=session_id,
        roles=tuple(membership.roles),
    )


def _api_key_principal(session: Session, credential: str, now: datetime) -> Principal:
    if tokens.parse_api_key(credential) is None:
        raise AuthenticationFailed("malformed API key")
    key_hash = tokens.digest(credential)
    shared = cache.of(session)
    if shared is not None:
        found = shared.find(("api_key", key_hash))
        if found is not cache.MISSING:
            principal, expires_at = found
            if expires_at is not None and expires_at <= now:
                raise AuthenticationFailed("expired API key")
            set_tenant(session, principal.tenant_id)
            return principal  # type: ignore[no-any-return]
        generation = shared.generation()
    cache.going_online(session)
    principal, expires_at = _load_api_key(session, key_hash, now)
    if shared is not None:
        shared.put(principal.tenant_id, ("api_key", key_hash), (principal, expires_at),
                   generation, findable=True)  # fmt: skip
    return principal


def _load_api_key(
    session: Session, key_hash: str, now: datetime
) -> tuple[Principal, datetime | None]:
    set_lookup(session, credential=key_hash)
    key = session.scalars(unscoped(select(ApiKey).where(ApiKey.key_hash == key_hash))).one_or_none()
    if key is None:
        raise AuthenticationFailed("unknown API key")
    if key.revoked_at is not None:
        raise AuthenticationFailed("revoked API key")
    expires_at = as_utc(key.expires_at) if key.expires_at is not None else None
    if expires_at is not None and expires_at <= now:
        raise AuthenticationFailed("expired API key")
    tenant = tenant_by_id(session, key.tenant_id)
    if tenant is None or key.created_by is None:
        raise AuthenticationFailed("API key without a tenant or a creator")
    set_tenant(session, tenant.id)
    # A key never grants more than its creator currently holds.
    _, creator = _active_member(session, key.created_by)
    permissions = frozenset(key.scopes) & permissions_of(session, creator.roles)
    if key.last_used_at is None or as_utc(key.last_used_at) <= now - API_KEY_TOUCH_INTERVAL:
        key.last_used_at = now
    principal = Principal(
        kind="api_key",
        id=key.id,
        name=key.name,
        tenant_id=tenant.id,
        tenant_slug=tenant.slug,
        permissions=permissions,
        user_id=key.created_by,
    )
    return principal, expires_at


def _active_member(session: Session, user_id: str) -> tuple[User, Membership]:
    user = session.scalars(select(User).where(User.id == user_id)).one_or_none()
    membership = membership_of(session, user_id) if user is not None else None
    return _check_active(user, membership)


def _check_active(user: User | None, membership: Membership | None) -> tuple[User, Membership]:
    if user is None or not user.is_active:
        raise AuthenticationFailed("user missing or deactivated")
    if membership is None or not membership.is_active:
        raise AuthenticationFailed("no active membership in the token's tenant")
    return user, membership


def _issue(session: Session, settings: Settings, auth: AuthSession, now: datetime) -> IssuedTokens:
    refresh = tokens.new_refresh_token()
    session.add(
        RefreshToken(
            tenant_id=auth.tenant_id,
            session_id=auth.id,
            token_hash=tokens.digest(refresh),
            expires_at=min(as_utc(auth.expires_at), now + tokens.REFRESH_TOKEN_TTL),
        )
    )
    session.flush()
    access, expires = tokens.issue_access_token(
        settings, user_id=auth.user_id, tenant_id=auth.tenant_id, session_id=auth.id, now=now
    )
    return IssuedTokens(
        access_token=access, refresh_token=refresh, expires_at=expires, session_id=auth.id
    )
