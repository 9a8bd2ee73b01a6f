"""Roles: the built-in ones (read-only, defined in code) and the tenant's custom roles.

A custom role may hold only permissions its author holds, and changing or deleting
one is a grant decision too: the caller must hold every permission it takes away.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.auth import ensure_permissions_held
from api.problems import Conflict, Unprocessable
from api.schemas.roles import RoleCreate, RoleUpdate
from api.services import one_or_404
from auterity import audit
from auterity.models.base import utcnow
from auterity.models.identity import MembershipRole, Role
from auterity.security.accounts import custom_roles
from auterity.security.permissions import BUILTIN_DESCRIPTIONS, BUILTIN_ROLES, ROLE_NAME
from auterity.security.principal import Principal


def builtin_role(name: str) -> Role:
    """A built-in role as an unsaved `Role` (never added to a session): its id is its name."""
    return Role(
        id=name,
        name=name,
        description=BUILTIN_DESCRIPTIONS[name],
        permissions=sorted(BUILTIN_ROLES[name]),
    )


def list_roles(session: Session) -> list[Role]:
    """Built-in roles, then the tenant's custom roles."""
    return [builtin_role(name) for name in BUILTIN_ROLES] + list(custom_roles(session).values())


def get_role(session: Session, role_id: str) -> Role:
    """A built-in role (by name) or a custom one (by id); else 404."""
    if role_id in BUILTIN_ROLES:
        return builtin_role(role_id)
    return one_or_404(session, Role, role_id, f"role {role_id}")


def create_role(
    session: Session, principal: Principal, body: RoleCreate, context: audit.AuditContext
) -> Role:
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
    _record(session, principal, "roles.created", role, {"permissions": permissions}, context)
    return role


def update_role(
    session: Session,
    principal: Principal,
    role_id: str,
    body: RoleUpdate,
    context: audit.AuditContext,
) -> Role:
    """Change a custom role's description or permissions (held by the caller)."""
    role = _custom_role(session, role_id)
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
    _record(session, principal, "roles.updated", role, details, context)
    return role


def delete_role(
    session: Session, principal: Principal, role_id: str, context: audit.AuditContext
) -> None:
    """Delete a custom role nobody holds."""
    role = _custom_role(session, role_id)
    holders = session.scalar(
        select(func.count()).select_from(MembershipRole).where(MembershipRole.role == role.name)
    )
    if holders:
        raise Conflict(f"role {role.name!r} is held by {holders} member(s); reassign them first")
    ensure_permissions_held(principal, role.permissions, field="permissions")
    session.delete(role)
    _record(
        session, principal, "roles.deleted", role, {"permissions": sorted(role.permissions)},
        context,
    )  # fmt: skip


def _custom_role(session: Session, role_id: str) -> Role:
    """A custom role to change; a built-in one is a 409, an unknown one a 404."""
    if role_id in BUILTIN_ROLES:
        raise Conflict(f"{role_id!r} is a built-in role and cannot be changed")
    return one_or_404(session, Role, role_id, f"role {role_id}")


def _record(
    session: Session,
    principal: Principal,
    action: str,
    role: Role,
    details: dict[str, object],
    context: audit.AuditContext,
) -> None:
    audit.record(
        session, principal, action, targets=[audit.Target("role", role.id, role.name)],
        details=details, request=context,
    )  # fmt: skip
