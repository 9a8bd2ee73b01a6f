"""From a verified assertion to a member of the tenant with the roles its mapping grants.

People are keyed on (issuer, subject), never on email: a new identity is linked to
an existing account only when the email's domain is one the tenant verified, or
the account is already a member of this tenant. Roles are recomputed at every
sign-in (and at every SCIM change) from the person's groups: the tenant's default
roles plus the roles mapped to each group; a role the IdP no longer grants is
removed. The tenant's last active owner never loses the owner role this way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auterity import audit
from auterity.models.identity import Membership
from auterity.models.sso import ScimGroup, ScimGroupMember, ScimUser, SsoConfig, SsoIdentity
from auterity.models.tenancy import Tenant, User
from auterity.security.accounts import (
    AccountError,
    active_owner_count,
    add_member,
    create_user,
    custom_roles,
    email_domain,
    membership_of,
    normalize_email,
    set_roles,
    user_by_email,
)
from auterity.security.permissions import BUILTIN_ROLES, OWNER
from auterity.security.principal import Actor
from auterity.security.sso.config import mappings_of
from auterity.security.sso.flow import SsoRefused

SSO_ACTOR = Actor.system("sso")

NO_ROLE_MESSAGE = (
    "Your identity provider signed you in, but none of your groups gives you a role in "
    "this workspace. Ask your administrator to add you to a group that has access."
)


@dataclass(frozen=True)
class Assertion:
    """What a verified SAML response or ID token says about the person."""

    protocol: Literal["saml", "oidc"]
    issuer: str
    subject: str
    email: str | None
    name: str = ""
    groups: tuple[str, ...] = ()
    session_index: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def roles_for(session: Session, row: SsoConfig, groups: Iterable[str]) -> list[str]:
    """The default roles plus every role mapped to one of `groups` that exists in the tenant."""
    names = set(groups)
    roles = set(row.default_roles)
    for mapping in mappings_of(row):
        if mapping.group in names:
            roles |= set(mapping.roles)
    known = set(BUILTIN_ROLES) | set(custom_roles(session))
    return sorted(roles & known)


def scim_groups_of(session: Session, user_id: str) -> list[str]:
    """The display names of the SCIM groups `user_id` is in (session tenant)."""
    return list(
        session.scalars(
            select(ScimGroup.display_name)
            .join(ScimGroupMember, ScimGroupMember.group_id == ScimGroup.id)
            .where(ScimGroupMember.user_id == user_id)
            .order_by(ScimGroup.display_name)
        )
    )


def provision(
    session: Session, tenant: Tenant, row: SsoConfig, assertion: Assertion, now: datetime
) -> tuple[User, dict[str, Any]]:
    """The user the assertion names, a member of `tenant` with its mapped roles; (user, what
    changed). SsoRefused when the person may not sign in. Changes are audited."""
    identity = session.scalars(
        select(SsoIdentity).where(
            SsoIdentity.issuer == assertion.issuer, SsoIdentity.subject == assertion.subject
        )
    ).one_or_none()
    changes: dict[str, Any] = {}
    user = _linked_user(session, identity) if identity is not None else None
    if user is None:
        user = _link(session, tenant, row, assertion, changes)
        identity = SsoIdentity(
            tenant_id=tenant.id,
            protocol=assertion.protocol,
            issuer=assertion.issuer,
            subject=assertion.subject,
            user_id=user.id,
            groups=[],
        )
        session.add(identity)
    assert identity is not None
    if not user.is_active:
        raise SsoRefused("account_deactivated", "the account is deactivated", status=403,
                         subject=user.email)  # fmt: skip
    groups = sorted(set(assertion.groups) | set(scim_groups_of(session, user.id)))
    roles = roles_for(session, row, groups)
    membership = membership_of(session, user.id)
    if membership is not None and not membership.is_active:
        raise SsoRefused(
            "membership_deactivated",
            "the person's membership in this tenant is deactivated",
            status=403,
            message="Your access to this workspace has been turned off by an administrator.",
            subject=user.email,
        )
    if not roles:
        raise SsoRefused(
            "no_role_granted",
            f"groups {groups[:20]} map to no role",
            status=403,
            message=NO_ROLE_MESSAGE,
            subject=user.email,
        )
    if membership is None:
        if not row.jit_provisioning:
            raise SsoRefused(
                "not_provisioned",
                "just-in-time provisioning is off and the person is not a member",
                status=403,
                message="You have no account in this workspace yet; ask your administrator.",
                subject=user.email,
            )
        add_member(session, tenant.id, user, roles)
        action, change = "users.added", {"added": roles, "removed": []}
    else:
        action, change = "users.updated", apply_roles(session, membership, roles)
    if change:
        changes["roles"] = change
        audit.record(
            session,
            SSO_ACTOR,
            action,
            targets=[audit.Target("user", user.id, user.email)],
            details={"roles": change, "method": assertion.protocol, "groups": groups[:50]},
        )
    identity.groups = list(assertion.groups)[:200]
    identity.last_login_at = now
    if assertion.name and assertion.name != user.name:
        user.name = assertion.name[:200]
    session.flush()
    return user, changes


def apply_roles(session: Session, membership: Membership, roles: list[str]) -> dict[str, list[str]]:
    """Make `roles` the membership's roles (keeping owner on the last active owner); the change."""
    wanted = set(roles)
    current = set(membership.roles)
    last_owner = OWNER in current and membership.is_active and active_owner_count(session) <= 1
    if OWNER not in wanted and last_owner:
        wanted.add(OWNER)
    if wanted == current:
        return {}
    set_roles(membership, wanted)
    session.flush()
    return {"added": sorted(wanted - current), "removed": sorted(current - wanted)}


def _linked_user(session: Session, identity: SsoIdentity) -> User | None:
    return session.scalars(select(User).where(User.id == identity.user_id)).one_or_none()


def _link(
    session: Session, tenant: Tenant, row: SsoConfig, assertion: Assertion, changes: dict[str, Any]
) -> User:
    """The account a first sign-in of (issuer, subject) belongs to, created if need be: the
    SCIM user of this tenant whose userName is the subject or the email, else the account
    with this email (see the module's rule), else a new one."""
    names = {assertion.subject.lower(), (assertion.email or "").lower()} - {""}
    provisioned = session.scalars(
        select(User)
        .join(ScimUser, ScimUser.user_id == User.id)
        .where(func.lower(ScimUser.user_name).in_(sorted(names)))
    ).first()
    if provisioned is not None:
        changes["identity_linked"] = True
        return provisioned
    if not assertion.email:
        raise SsoRefused(
            "no_email",
            "the IdP sent no email for a person signing in for the first time",
            status=403,
            message="Your identity provider did not send your email address; ask your "
            "administrator to release the email attribute or claim.",
            subject=assertion.subject,
        )
    email = normalize_email(assertion.email)
    existing = user_by_email(session, email)
    if existing is not None:
        verified = email_domain(email) in tenant.verified_domains
        if verified or membership_of(session, existing.id) is not None:
            changes["identity_linked"] = True
            return existing
        raise SsoRefused(
            "email_in_use",
            "an account with this email exists and the tenant has not verified its domain",
            status=403,
            message="An account with your email address already exists. Ask your "
            "administrator to verify your email domain for this workspace.",
            subject=email,
        )
    if not row.jit_provisioning:
        raise SsoRefused(
            "not_provisioned",
            "just-in-time provisioning is off and the person has no account",
            status=403,
            message="You have no account in this workspace yet; ask your administrator.",
            subject=email,
        )
    try:
        user = create_user(session, email, assertion.name)
    except AccountError as exc:
        raise SsoRefused("invalid_email", str(exc), status=403, subject=email) from None
    changes["account_created"] = True
    audit.record(
        session,
        SSO_ACTOR,
        "users.created",
        targets=[audit.Target("user", user.id, user.email)],
        details={"method": assertion.protocol},
    )
    return user
