"""Roles: the built-in ones (read-only) and the tenant's custom roles."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from api.auth import UsersManager, ensure_permissions_held
from api.deps import SessionDep
from api.problems import Conflict, NotFound, Unprocessable
from auterity import audit
from auterity.models.base import utcnow
from auterity.models.identity import MembershipRole, Role
from auterity.security.accounts import custom_roles
from auterity.security.permissions import (
    BUILTIN_DESCRIPTIONS,
    BUILTIN_ROLES,
    PERMISSIONS,
    ROLE_NAME,
)

router = APIRouter(prefix="/v1/roles", tags=["roles"])


class RoleCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "release-manager",
                    "description": "Runs and approves release graphs; reads the audit log.",
                    "permissions": [
                        "graphs:read",
                        "executions:read",
                        "executions:start",
                        "tasks:complete",
                        "audit:read",
                    ],
                }
            ]
        },
    )

    name: str = Field(min_length=2, max_length=63)
    description: str = Field(default="", max_length=2000)
    permissions: list[str] = Field(max_length=len(PERMISSIONS))


class RoleUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"permissions": ["graphs:read", "executions:read", "executions:start"]},
                {"description": "Starts release graphs."},
            ]
        },
    )

    description: str | None = Field(default=None, max_length=2000)
    permissions: list[str] | None = Field(default=None, max_length=len(PERMISSIONS))


class RoleRead(BaseModel):
    id: str = Field(description="the name for a built-in role, a uuid for a custom one")
    name: str
    description: str
    permissions: list[str]
    builtin: bool
    created_at: datetime | None = None
    updated_at: datetime | None = None


class RoleList(BaseModel):
    items: list[RoleRead]
    permissions: list[str] = Field(description="every permission a role can hold")


def _builtin(name: str) -> RoleRead:
    return RoleRead(
        id=name,
        name=name,
        description=BUILTIN_DESCRIPTIONS[name],
        permissions=sorted(BUILTIN_ROLES[name]),
        builtin=True,
    )


def _custom(role: Role) -> RoleRead:
    return RoleRead(
        id=role.id,
        name=role.name,
        description=role.description,
        permissions=sorted(role.permissions),
        builtin=False,
        created_at=role.created_at,
        updated_at=role.updated_at,
    )


def _find(session: SessionDep, role_id: str) -> Role:
    role = session.scalars(select(Role).where(Role.id == role_id)).one_or_none()
    if role is None:
        raise NotFound(f"role {role_id} not found")
    return role


def _refuse_builtin(role_id: str) -> None:
    if role_id in BUILTIN_ROLES:
        raise Conflict(f"{role_id!r} is a built-in role and cannot be changed")


@router.get("")
def list_roles(principal: UsersManager, session: SessionDep) -> RoleList:
    """Built-in roles, then the tenant's custom roles, with their permissions."""
    items = [_builtin(name) for name in BUILTIN_ROLES]
    items += [_custom(role) for role in custom_roles(session).values()]
    return RoleList(items=items, permissions=list(PERMISSIONS))


@router.post("", status_code=201)
def create_role(
    body: RoleCreate, principal: UsersManager, session: SessionDep, request: Request
) -> RoleRead:
    """A custom role; it may hold only permissions the caller holds."""
    if not ROLE_NAME.match(body.name) or body.name in BUILTIN_ROLES:
        msg = (
            "is a built-in role"
            if body.name in BUILTIN_ROLES
            else "must be 2-63 lowercase letters, digits, '_' or '-', starting with a letter"
        )
        raise Unprocessable(f"name: {msg}", errors=[{"loc": ["body", "name"], "msg": msg}])
    permissions = ensure_permissions_held(principal, body.permissions, field="permissions")
    if body.name in custom_roles(session):
        raise Conflict(f"role {body.name!r} exists")
    role = Role(name=body.name, description=body.description, permissions=permissions)
    session.add(role)
    session.flush()
    audit.record(
        session,
        principal,
        "roles.created",
        targets=[audit.Target("role", role.id, role.name)],
        details={"permissions": permissions},
        request=request,
    )
    return _custom(role)


@router.get("/{role_id}")
def read_role(role_id: str, principal: UsersManager, session: SessionDep) -> RoleRead:
    """One role, built-in (by name) or custom (by id)."""
    if role_id in BUILTIN_ROLES:
        return _builtin(role_id)
    return _custom(_find(session, role_id))


@router.patch("/{role_id}")
def update_role(
    role_id: str, body: RoleUpdate, principal: UsersManager, session: SessionDep, request: Request
) -> RoleRead:
    """Change a custom role's description or permissions (held by the caller)."""
    _refuse_builtin(role_id)
    role = _find(session, role_id)
    details: dict[str, object] = {}
    if body.permissions is not None:
        permissions = ensure_permissions_held(principal, body.permissions, field="permissions")
        # Taking a permission away is also a grant decision: the caller must hold it.
        ensure_permissions_held(principal, role.permissions, field="permissions")
        details = {
            "added": sorted(set(permissions) - set(role.permissions)),
            "removed": sorted(set(role.permissions) - set(permissions)),
        }
        role.permissions = permissions
    if body.description is not None:
        role.description = body.description
        details["description"] = "changed"
    role.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        principal,
        "roles.updated",
        targets=[audit.Target("role", role.id, role.name)],
        details=details,
        request=request,
    )
    return _custom(role)


@router.delete("/{role_id}", status_code=204)
def delete_role(
    role_id: str, principal: UsersManager, session: SessionDep, request: Request
) -> Response:
    """Delete a custom role nobody holds."""
    _refuse_builtin(role_id)
    role = _find(session, role_id)
    holders = session.scalar(
        select(func.count()).select_from(MembershipRole).where(MembershipRole.role == role.name)
    )
    if holders:
        raise Conflict(f"role {role.name!r} is held by {holders} member(s); reassign them first")
    ensure_permissions_held(principal, role.permissions, field="permissions")
    session.delete(role)
    audit.record(
        session,
        principal,
        "roles.deleted",
        targets=[audit.Target("role", role.id, role.name)],
        details={"permissions": sorted(role.permissions)},
        request=request,
    )
    return Response(status_code=204)
