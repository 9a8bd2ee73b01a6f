"""Password login: rate limit, check, pick the tenant, start a session, audit either way.

The tenant comes from the `tenant` slug the caller names, else the account's only
active membership, else the one membership whose tenant has verified the email's
domain; never from a header. Every refusal before the password is proven says
the same thing, so a response never reveals whether an account exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from auterity import audit, metrics
from auterity.db import transaction
from auterity.models.tenancy import Tenant, User
from auterity.secrets import bind_keyring, keyring
from auterity.security import ratelimit
from auterity.security.accounts import (
    email_domain,
    memberships_of_user,
    normalize_email,
    tenant_by_slug,
    user_by_email,
)
from auterity.security.authentication import IssuedTokens, start_session
from auterity.security.passwords import verify_password
from auterity.security.principal import Actor
from auterity.security.scoping import set_lookup, set_tenant
from auterity.security.sso.policy import password_verdict
from auterity.settings import Settings

INVALID = "invalid email or password"
SSO_REQUIRED = "this workspace requires single sign-on: sign in with SSO"


class LoginRefused(Exception):
    """A login that did not succeed; `status` and `detail` are what the caller may see."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        retry_after: int | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.retry_after = retry_after
        self.errors = errors


@dataclass(frozen=True)
class LoginResult:
    tokens: IssuedTokens
    tenant: Tenant
    user: User


def password_login(
    sessions: sessionmaker[Session],
    settings: Settings,
    *,
    email: str,
    password: str,
    tenant_slug: str | None,
    request: Any,
    now: datetime,
) -> LoginResult:
    """Tokens for a correct password, or LoginRefused after the failure is committed."""
    email = normalize_email(email)
    address = audit.AuditContext.of(request).ip or "unknown"
    ring = keyring(settings)
    refusal: LoginRefused
    with transaction(sessions) as session:
        wait = ratelimit.retry_after(session, email, address, now)
        if wait is not None:
            refusal = LoginRefused(429, "too many failed logins; try again later", retry_after=wait)
            reason = "rate_limited"
            user = user_by_email(session, email)
        else:
            user = user_by_email(session, email)
            usable = user is not None and user.is_active
            if verify_password(password, user.password_hash if usable and user else None):
                assert user is not None
                picked = _pick_tenant(session, user, tenant_slug)
                verdict = None
                if isinstance(picked, Tenant):
                    verdict = password_verdict(session, picked, user)
                    if verdict == "sso_required":
                        tenant_slug, picked = picked.slug, LoginRefused(403, SSO_REQUIRED)
                if isinstance(picked, Tenant):
                    ratelimit.clear_account(session, email)
                    bind_keyring(session, ring)
                    issued = start_session(session, settings, picked, user, now)
                    details: dict[str, object] = {
                        "method": "password",
                        "session_id": issued.session_id,
                    }
                    if verdict == "break_glass":
                        details["break_glass"] = True  # SSO is required; an owner got in anyway
                    audit.record(
                        session,
                        Actor(type="user", id=user.id, name=user.email),
                        "auth.login",
                        targets=[audit.Target("user", user.id, user.email)],
                        details=details,
                        request=request,
                    )
                    return LoginResult(tokens=issued, tenant=picked, user=user)
                if picked.status == 422:
                    raise picked  # the password was right: only the tenant is missing
                refusal = picked
                reason = "sso_required" if picked.status == 403 else "no_matching_membership"
            else:
                refusal, reason = LoginRefused(401, INVALID), "invalid_credentials"
            ratelimit.record_failure(session, email, address, now)
    _audit_failure(sessions, ring, email, user, tenant_slug, reason, request)
    metrics.login_failed("password", _metric_reason(reason, user))
    raise refusal


def _metric_reason(reason: str, user: User | None) -> metrics.LoginReason:
    """The bounded `reason` label of a refused password sign-in."""
    if reason == "rate_limited":
        return "rate_limited"
    if reason == "sso_required":
        return "sso_required"
    if user is None:
        return "unknown_user"
    if not user.is_active:
        return "disabled"
    return "bad_credentials"


def _pick_tenant(session: Session, user: User, tenant_slug: str | None) -> Tenant | LoginRefused:
    set_lookup(session, user_id=user.id)
    active = [
        tenant
        for membership, tenant in memberships_of_user(session, user.id)
        if membership.is_active
    ]
    if tenant_slug:
        named = [tenant for tenant in active if tenant.slug == tenant_slug]
        return named[0] if named else LoginRefused(401, INVALID)
    if len(active) == 1:
        return active[0]
    by_domain = [tenant for tenant in active if email_domain(user.email) in tenant.verified_domains]
    if len(by_domain) == 1:
        return by_domain[0]
    if not active:
        return LoginRefused(401, INVALID)
    slugs = ", ".join(sorted(tenant.slug for tenant in active))
    return LoginRefused(
        422,
        f"tenant: this account belongs to several tenants ({slugs}); name one",
        errors=[{"loc": ["body", "tenant"], "msg": f"required: one of {slugs}"}],
    )


def _audit_failure(
    sessions: sessionmaker[Session],
    ring: Any,
    email: str,
    user: User | None,
    tenant_slug: str | None,
    reason: str,
    request: Any,
) -> None:
    """Record a failed login in the named tenant, else in every tenant of the account.

    A failure naming neither an existing tenant nor an existing account has no
    tenant's trail to go to; the rate limiter still counts it.
    """
    with transaction(sessions) as session:
        tenant_ids: list[str] = []
        named = tenant_by_slug(session, tenant_slug) if tenant_slug else None
        if named is not None:
            tenant_ids = [named.id]
        elif user is not None:
            set_lookup(session, user_id=user.id)
            tenant_ids = [tenant.id for _, tenant in memberships_of_user(session, user.id)]
    for tenant_id in tenant_ids:
        with transaction(sessions) as session:
            set_tenant(session, tenant_id)
            bind_keyring(session, ring)
            audit.record(
                session,
                Actor(type="anonymous", id=None, name=email),
                "auth.login",
                targets=[audit.Target("user", user.id, user.email)] if user else [],
                details={"method": "password", "reason": reason},
                request=request,
                outcome=audit.Outcome.FAILURE if reason != "rate_limited" else audit.Outcome.DENIED,
            )
