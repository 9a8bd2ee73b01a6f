"""Invitations: how a person joins another tenant.

An admin invites an email address; the answer is the same whether or not the address
has an account anywhere (nothing about it is looked up). The person accepts: signed in
as that address (an existing account), or with the token and a password when the
address has no account yet. A token is single-use, expires, and is kept as sha256 only.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import ensure_grantable
from api.problems import Conflict, Forbidden, NotFound, Unprocessable
from api.schemas.invitations import (
    InvitationAccepted,
    InvitationCreate,
    InvitationCreated,
    InvitationRead,
    InvitationStatus,
)
from auterity import audit
from auterity.models.identity import Invitation, Membership
from auterity.models.tenancy import Tenant, User
from auterity.secrets import bind_keyring, keyring
from auterity.security import accounts
from auterity.security.clock import as_utc
from auterity.security.passwords import weakness
from auterity.security.permissions import BUILTIN_ROLES
from auterity.security.principal import Actor, Principal
from auterity.security.scoping import set_lookup, set_tenant, unscoped
from auterity.security.tokens import digest
from auterity.settings import Settings

TOKEN_PREFIX = "ati_"
TTL = timedelta(days=7)
REFUSED = "no such invitation, or it expired, was revoked or was already used"


def _status(invitation: Invitation, now: datetime) -> InvitationStatus:
    if invitation.accepted_at is not None:
        return "accepted"
    if invitation.revoked_at is not None:
        return "revoked"
    if as_utc(invitation.expires_at) <= now:
        return "expired"
    return "pending"


def describe(invitation: Invitation, now: datetime) -> InvitationRead:
    return InvitationRead(
        id=invitation.id,
        email=invitation.email,
        roles=list(invitation.roles),
        status=_status(invitation, now),
        created_at=invitation.created_at,
        expires_at=invitation.expires_at,
    )


def create_invitation(
    session: Session, principal: Principal, body: InvitationCreate, context: audit.AuditContext
) -> InvitationCreated:
    """Invite an address; whether it has an account is neither looked up nor told."""
    roles = ensure_grantable(session, principal, body.roles)
    email = accounts.normalize_email(body.email)
    if not accounts.EMAIL.match(email):
        raise Unprocessable(
            f"email: {email!r} is not an email address",
            errors=[{"loc": ["body", "email"], "msg": "not an email address"}],
        )
    # Only this tenant's own members are visible here, and the admin may list them anyway.
    member = session.scalar(
        select(Membership.id).join(User, User.id == Membership.user_id).where(User.email == email)
    )
    if member is not None:
        raise Conflict(f"{email} is already a member of this tenant")
    now = datetime.now(UTC)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    invitation = Invitation(
        email=email,
        roles=roles,
        token_hash=digest(token),
        invited_by=principal.user_id,
        created_at=now,
        expires_at=now + TTL,
    )
    session.add(invitation)
    session.flush()
    audit.record(
        session,
        principal,
        "invitations.created",
        targets=[audit.Target("invitation", invitation.id, email)],
        details={"roles": roles, "expires_at": invitation.expires_at.isoformat()},
        request=context,
    )
    return InvitationCreated(**describe(invitation, now).model_dump(), token=token)


def list_invitations(session: Session) -> list[InvitationRead]:
    now = datetime.now(UTC)
    rows = session.scalars(select(Invitation).order_by(Invitation.created_at.desc()).limit(500))
    return [describe(row, now) for row in rows]


def _invitation(session: Session, invitation_id: str) -> Invitation:
    row = session.scalars(select(Invitation).where(Invitation.id == invitation_id)).one_or_none()
    if row is None:
        raise NotFound(f"invitation {invitation_id} not found")
    return row


def read_invitation(session: Session, invitation_id: str) -> InvitationRead:
    return describe(_invitation(session, invitation_id), datetime.now(UTC))


def revoke_invitation(
    session: Session, principal: Principal, invitation_id: str, context: audit.AuditContext
) -> None:
    invitation = _invitation(session, invitation_id)
    now = datetime.now(UTC)
    if _status(invitation, now) != "pending":
        return
    invitation.revoked_at = now
    session.flush()
    audit.record(
        session,
        principal,
        "invitations.revoked",
        targets=[audit.Target("invitation", invitation.id, invitation.email)],
        request=context,
    )


def _presented(session: Session, token: str, now: datetime) -> tuple[Invitation, Tenant]:
    """The pending invitation behind a token; the session is then in its tenant."""
    hashed = digest(token.strip())
    set_lookup(session, credential=hashed)
    invitation = session.scalars(
        unscoped(select(Invitation).where(Invitation.token_hash == hashed))
    ).one_or_none()
    if invitation is None or _status(invitation, now) != "pending":
        raise NotFound(REFUSED)
    set_tenant(session, invitation.tenant_id)
    tenant = accounts.tenant_by_id(session, invitation.tenant_id)
    if tenant is None:
        raise NotFound(REFUSED)
    return invitation, tenant


def _join(
    session: Session,
    invitation: Invitation,
    tenant: Tenant,
    user: User,
    *,
    created: bool,
    now: datetime,
    context: audit.AuditContext,
) -> InvitationAccepted:
    if accounts.membership_of(session, user.id) is not None:
        raise Conflict(f"you are already a member of {tenant.slug}")
    known = accounts.custom_roles(session).keys() | BUILTIN_ROLES.keys()
    roles = [role for role in invitation.roles if role in known]
    if not roles:
        raise Conflict("the roles of this invitation no longer exist; ask for a new one")
    accounts.add_member(session, tenant.id, user, roles)
    invitation.accepted_at = now
    invitation.accepted_by = user.id
    session.flush()
    audit.record(
        session,
        Actor(type="user", id=user.id, name=user.email),
        "invitations.accepted",
        targets=[
            audit.Target("invitation", invitation.id, invitation.email),
            audit.Target("user", user.id, user.email),
        ],
        details={"roles": roles, "account_created": created},
        request=context,
    )
    return InvitationAccepted(
        tenant=tenant.slug, email=user.email, roles=roles, account_created=created
    )


def accept_signed_in(
    session: Session, principal: Principal, token: str, context: audit.AuditContext
) -> InvitationAccepted:
    """The signed-in person accepts an invitation addressed to their own email."""
    if principal.kind != "user" or principal.user_id is None:
        raise Forbidden("an invitation is accepted by a person, not an API key")
    now = datetime.now(UTC)
    user = session.scalars(select(User).where(User.id == principal.user_id)).one()
    invitation, tenant = _presented(session, token, now)
    if invitation.email != accounts.normalize_email(user.email):
        raise NotFound(REFUSED)  # another person's invitation: as if there were none
    return _join(session, invitation, tenant, user, created=False, now=now, context=context)


def accept_new_account(
    session: Session,
    settings: Settings,
    token: str,
    name: str,
    password: str,
    context: audit.AuditContext,
) -> InvitationAccepted:
    """An invitation accepted with a new account for its address, by whoever holds the token."""
    bind_keyring(session, keyring(settings))  # no principal bound it: audit redaction needs it
    if problem := weakness(password):
        raise Unprocessable(
            f"password: {problem}", errors=[{"loc": ["body", "password"], "msg": problem}]
        )
    now = datetime.now(UTC)
    invitation, tenant = _presented(session, token, now)
    if accounts.user_by_email(session, invitation.email) is not None:
        raise Conflict(
            "this address has an account: sign in as it and accept with POST /v1/invitations/accept"
        )
    user = accounts.create_user(session, invitation.email, name, password)
    return _join(session, invitation, tenant, user, created=True, now=now, context=context)
