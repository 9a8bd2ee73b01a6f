"""Roles: the built-in ones (read-only) and the tenant's custom roles."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.auth import UsersManager
from api.deps import SessionDep
from api.schemas.roles import RoleCreate, RoleList, RoleRead, RoleUpdate
from api.services import roles as service
from auterity.audit import AuditContext
from auterity.security.permissions import PERMISSIONS

router = APIRouter(prefix="/roles", tags=["roles"])


@router.get("")
def list_roles(principal: UsersManager, session: SessionDep) -> RoleList:
    """Built-in roles, then the tenant's custom roles, with their permissions."""
    roles = service.list_roles(session)
    return RoleList(
        items=[RoleRead.model_validate(role, from_attributes=True) for role in roles],
        permissions=list(PERMISSIONS),
    )


@router.post("", status_code=201)
def create_role(
    body: RoleCreate, principal: UsersManager, session: SessionDep, request: Request
) -> RoleRead:
    """A custom role; it may hold only permissions the caller holds."""
    role = service.create_role(session, principal, body, AuditContext.of(request))
    return RoleRead.model_validate(role, from_attributes=True)


@router.get("/{role_id}")
def read_role(role_id: str, principal: UsersManager, session: SessionDep) -> RoleRead:
    """One role, built-in (by name) or custom (by id)."""
    return RoleRead.model_validate(service.get_role(session, role_id), from_attributes=True)


@router.patch("/{role_id}")
def update_role(
    role_id: str, body: RoleUpdate, principal: UsersManager, session: SessionDep, request: Request
) -> RoleRead:
    """Change a custom role's description or permissions (held by the caller)."""
    role = service.update_role(session, principal, role_id, body, AuditContext.of(request))
    return RoleRead.model_validate(role, from_attributes=True)


@router.delete("/{role_id}", status_code=204)
def delete_role(
    role_id: str, principal: UsersManager, session: SessionDep, request: Request
) -> Response:
    """Delete a custom role nobody holds."""
    service.delete_role(session, principal, role_id, AuditContext.of(request))
    return Response(status_code=204)
