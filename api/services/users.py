"""The tenant's members: change roles, reset a password, deactivate (people join through
invitations, `api.services.invitations`).

Two rules hold throughout: nobody grants a role with more than they hold
(`api.auth.ensure_grantable`), and the tenant keeps at least one active owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from api.auth import ensure_grantable
from api.problems import Conflict, Forbidden, NotFound, Unprocessable
from api.schemas.users import PasswordReset, PasswordSet, UserUpdate
from auterity import audit
from auterity.models.identity import Membership
from auterity.models.tenancy import User
from auterity.security import accounts, ratelimit
from auterity.security.authentication import revoke_sessions_everywhere, revoke_user_sessions
from auterity.security.passwords import generate_password, hash_password, weakness
from auterity.security.permissions import OWNER
from auterity.security.principal import Principal
from auterity.security.scoping import set_lookup


@dataclass(frozen=True)
class Member:
    """A person in the tenant: their account and their membership."""

    user: User
    membership: Membership

    @property
    def is_active(self) -> bool:
        """Active in this tenant: the membership and the account both are."""
        return self.membership.is_active and self.user.is_active


def _members() -> Select[User, Membership]:
    return select(User, Membership).join(Membership, Membership.user_id == User.id)


def list_members(session: Session) -> list[Member]:
    """The tenant's members by email."""
    rows = session.execute(_members().order_by(User.email)).all()
    return [Member(user, membership) for user, membership in rows]


def get_member(session: Session, user_id: str) -> Member:
    """A member of the caller's tenant; anyone else (another tenant's user included) is 404."""
    row = session.execute(_members().where(User.id == user_id)).one_or_none()
    if row is None:
        raise NotFound(f"user {user_id} not found")
    return Member(row[0], row[1])


def update_member(
    session: Session,
    principal: Principal,
    user_id: str,
    body: UserUpdate,
    context: audit.AuditContext,
) -> Member:
    """Replace a member's roles and/or (de)activate their membership."""
    member = get_member(session, user_id)
    user, membership = member.user, member.membership
    changes: dict[str, object] = {}
    if body.roles is not None and sorted(set(body.roles)) != membership.roles:
        roles = sorted(set(body.roles))
        removed, added = set(membership.roles) - set(roles), set(roles) - set(membership.roles)
        ensure_grantable(session, principal, removed | added)
        if OWNER in removed:
            _guard_owner_change(session, principal, membership)
        accounts.set_roles(membership, roles)
        changes["roles"] = {"added": sorted(added), "removed": sorted(removed)}
    if body.is_active is not None and body.is_active != membership.is_active:
        if not body.is_active:
            _guard_owner_change(session, principal, membership)
            revoke_user_sessions(session, user.id, "deactivated", datetime.now(UTC))
        membership.is_active = body.is_active
        changes["is_active"] = body.is_active
    session.flush()
    if changes:
        audit.record(
            session,
            principal,
            "users.updated",
            targets=[audit.Target("user", user.id, user.email)],
            details=changes,
            request=context,
        )
    return member


def deactivate_member(
    session: Session, principal: Principal, user_id: str, context: audit.AuditContext
) -> None:
    """Deactivate a member in this tenant: their sessions end, their account stays."""
    member = get_member(session, user_id)
    user, membership = member.user, member.membership
    if membership.is_active:
        _guard_owner_change(session, principal, membership)
        membership.is_active = False
        ended = revoke_user_sessions(session, user.id, "deactivated", datetime.now(UTC))
        audit.record(
            session,
            principal,
            "users.deactivated",
            targets=[audit.Target("user", user.id, user.email)],
            details={"sessions_ended": ended},
            request=context,
        )


def _guard_owner_change(session: Session, principal: Principal, membership: Membership) -> None:
    if OWNER not in membership.roles:
        return
    if OWNER not in principal.roles:
        raise Forbidden("only an owner can change or deactivate an owner")
    if membership.is_active and accounts.active_owner_count(session) <= 1:
        raise Conflict(
            "the tenant's last active owner cannot lose the owner role or be deactivated"
        )


def reset_password(
    session: Session,
    principal: Principal,
    user_id: str,
    body: PasswordReset,
    context: audit.AuditContext,
) -> PasswordSet:
    """Set a member's password; every session of theirs ends.

    Only for an account that belongs to this tenant alone (anywhere else its password is
    not this tenant's to set), never the caller's own (that takes the current password:
    POST /v1/me/password), and an owner's only by an owner.
    """
    member = get_member(session, user_id)
    user, membership = member.user, member.membership
    if user.id == principal.user_id:
        raise Forbidden("change your own password with POST /v1/me/password")
    if OWNER in membership.roles and OWNER not in principal.roles:
        raise Forbidden("only an owner can reset an owner's password")
    set_lookup(session, user_id=user.id)
    tenants = {tenant.id for _, tenant in accounts.memberships_of_user(session, user.id)}
    if tenants - {principal.tenant_id}:
        raise Conflict(
            "this account also belongs to other tenants: only its owner can change its "
            "password (POST /v1/me/password)"
        )
    if body.password is not None and (problem := weakness(body.password)):
        raise Unprocessable(
            f"password: {problem}", errors=[{"loc": ["body", "password"], "msg": problem}]
        )
    generated = None if body.password is not None else generate_password()
    user.password_hash = hash_password(body.password or generated or "")
    now = datetime.now(UTC)
    ended = revoke_sessions_everywhere(session, user.id, "password_reset", now)
    ratelimit.clear_account(session, user.email)
    session.flush()
    audit.record(
        session,
        principal,
        "users.password_reset",
        targets=[audit.Target("user", user.id, user.email)],
        details={"sessions_ended": ended, "generated": generated is not None},
        request=context,
    )
    return PasswordSet(sessions_ended=ended, password=generated)
