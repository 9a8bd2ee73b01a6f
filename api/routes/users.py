"""The tenant's members: list, invite or create, read, change roles, deactivate."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from api.auth import UsersManager, ensure_grantable
from api.deps import SessionDep
from api.problems import Conflict, Forbidden, NotFound, Unprocessable
from auterity import audit
from auterity.models.identity import Membership, MembershipRole
from auterity.models.tenancy import User
from auterity.security.accounts import (
    AccountError,
    add_member,
    create_user,
    membership_of,
    user_by_email,
)
from auterity.security.authentication import revoke_user_sessions
from auterity.security.passwords import generate_password, weakness
from auterity.security.permissions import OWNER
from auterity.security.principal import Principal

router = APIRouter(prefix="/v1/users", tags=["users"])


class UserCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"email": "grace@example.com", "name": "Grace Hopper", "roles": ["editor"]},
                {
                    "email": "alan@example.com",
                    "name": "Alan Turing",
                    "roles": ["operator", "approver"],
                    "password": "a long passphrase nobody guesses",
                },
            ]
        },
    )

    email: str = Field(min_length=3, max_length=320)
    name: str = Field(default="", max_length=200)
    roles: list[str] = Field(min_length=1, max_length=20)
    password: str | None = Field(
        default=None,
        max_length=1024,
        description="for a new account; generated (and returned once) when omitted",
    )


class UserUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"roles": ["admin"]}, {"is_active": False}]},
    )

    roles: list[str] | None = Field(default=None, min_length=1, max_length=20)
    is_active: bool | None = None


class UserRead(BaseModel):
    id: str
    email: str
    name: str
    roles: list[str]
    is_active: bool
    joined_at: datetime


class UserCreated(UserRead):
    account_created: bool
    initial_password: str | None = Field(
        default=None, description="shown once, only when the server generated it"
    )


class UserList(BaseModel):
    items: list[UserRead]


def _read(user: User, membership: Membership) -> UserRead:
    return UserRead(
        id=user.id,
        email=user.email,
        name=user.name,
        roles=membership.roles,
        is_active=membership.is_active and user.is_active,
        joined_at=membership.created_at,
    )


def _member(session: SessionDep, user_id: str) -> tuple[User, Membership]:
    """A member of the caller's tenant; anyone else (another tenant's user included) is 404."""
    row = session.execute(
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(User.id == user_id)
    ).one_or_none()
    if row is None:
        raise NotFound(f"user {user_id} not found")
    return row[0], row[1]


def _active_owner_count(session: SessionDep) -> int:
    return len(
        session.scalars(
            select(Membership.id)
            .join(MembershipRole, MembershipRole.membership_id == Membership.id)
            .where(MembershipRole.role == OWNER, Membership.is_active.is_(True))
        ).all()
    )


def _guard_owner_change(session: SessionDep, principal: Principal, membership: Membership) -> None:
    if OWNER not in membership.roles:
        return
    if OWNER not in principal.roles:
        raise Forbidden("only an owner can change or deactivate an owner")
    if membership.is_active and _active_owner_count(session) <= 1:
        raise Conflict(
            "the tenant's last active owner cannot lose the owner role or be deactivated"
        )


@router.get("")
def list_users(principal: UsersManager, session: SessionDep) -> UserList:
    """The tenant's members with their roles."""
    rows = session.execute(
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .order_by(User.email)
    ).all()
    return UserList(items=[_read(user, membership) for user, membership in rows])


@router.post("", status_code=201)
def create_user_in_tenant(
    body: UserCreate, principal: UsersManager, session: SessionDep, request: Request
) -> UserCreated:
    """Add a person to the tenant: an existing account joins, a new one is created."""
    roles = ensure_grantable(session, principal, body.roles)
    user = user_by_email(session, body.email)
    generated: str | None = None
    if user is not None:
        if membership_of(session, user.id) is not None:
            raise Conflict(f"{user.email} is already a member")
        if body.password is not None:
            raise Unprocessable(
                "password: this account exists and keeps its own password",
                errors=[
                    {"loc": ["body", "password"], "msg": "not allowed for an existing account"}
                ],
            )
        created = False
    else:
        if body.password is not None and (problem := weakness(body.password)):
            raise Unprocessable(
                f"password: {problem}", errors=[{"loc": ["body", "password"], "msg": problem}]
            )
        password = body.password or (generated := generate_password())
        try:
            user = create_user(session, body.email, body.name, password)
        except AccountError as exc:
            raise Unprocessable(
                f"email: {exc}", errors=[{"loc": ["body", "email"], "msg": str(exc)}]
            ) from None
        created = True
    membership = add_member(session, principal.tenant_id, user, roles)
    audit.record(
        session,
        principal,
        "users.added",
        targets=[audit.Target("user", user.id, user.email)],
        details={"roles": roles, "account_created": created},
        request=request,
    )
    return UserCreated(
        **_read(user, membership).model_dump(),
        account_created=created,
        initial_password=generated,
    )


@router.get("/{user_id}")
def read_user(user_id: str, principal: UsersManager, session: SessionDep) -> UserRead:
    """One member of the tenant."""
    return _read(*_member(session, user_id))


@router.patch("/{user_id}")
def update_user(
    user_id: str, body: UserUpdate, principal: UsersManager, session: SessionDep, request: Request
) -> UserRead:
    """Replace a member's roles and/or (de)activate their membership."""
    user, membership = _member(session, user_id)
    changes: dict[str, object] = {}
    if body.roles is not None and sorted(set(body.roles)) != membership.roles:
        roles = sorted(set(body.roles))
        removed, added = set(membership.roles) - set(roles), set(roles) - set(membership.roles)
        ensure_grantable(session, principal, removed | added)
        if OWNER in removed:
            _guard_owner_change(session, principal, membership)
        kept = {link.role: link for link in membership.role_links}
        membership.role_links = [
            kept.get(role) or MembershipRole(tenant_id=membership.tenant_id, role=role)
            for role in roles
        ]
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
            request=request,
        )
    return _read(user, membership)


@router.delete("/{user_id}", status_code=204)
def deactivate_user(
    user_id: str, principal: UsersManager, session: SessionDep, request: Request
) -> Response:
    """Deactivate a member in this tenant: their sessions end, their account stays."""
    user, membership = _member(session, user_id)
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
            request=request,
        )
    return Response(status_code=204)
