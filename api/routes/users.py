"""The tenant's members: list, read, change roles, reset a password, deactivate (people join
through /v1/invitations)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.auth import UsersManager
from api.deps import SessionDep
from api.schemas.users import PasswordReset, PasswordSet, UserList, UserRead, UserUpdate
from api.services import users as service
from auterity.audit import AuditContext

router = APIRouter(prefix="/users", tags=["users"])


@router.get("")
def list_users(principal: UsersManager, session: SessionDep) -> UserList:
    """The tenant's members with their roles."""
    members = service.list_members(session)
    return UserList(items=[UserRead.model_validate(m, from_attributes=True) for m in members])


@router.get("/{user_id}")
def read_user(user_id: str, principal: UsersManager, session: SessionDep) -> UserRead:
    """One member of the tenant."""
    return UserRead.model_validate(service.get_member(session, user_id), from_attributes=True)


@router.patch("/{user_id}")
def update_user(
    user_id: str, body: UserUpdate, principal: UsersManager, session: SessionDep, request: Request
) -> UserRead:
    """Replace a member's roles and/or (de)activate their membership."""
    member = service.update_member(session, principal, user_id, body, AuditContext.of(request))
    return UserRead.model_validate(member, from_attributes=True)


@router.delete("/{user_id}", status_code=204)
def deactivate_user(
    user_id: str, principal: UsersManager, session: SessionDep, request: Request
) -> Response:
    """Deactivate a member in this tenant: their sessions end, their account stays."""
    service.deactivate_member(session, principal, user_id, AuditContext.of(request))
    return Response(status_code=204)


@router.post("/{user_id}/password", responses={403: {}, 404: {}, 409: {}, 422: {}})
def reset_user_password(
    user_id: str,
    body: PasswordReset,
    principal: UsersManager,
    session: SessionDep,
    request: Request,
) -> PasswordSet:
    """Set a member's password (generated when omitted); their sessions end."""
    return service.reset_password(session, principal, user_id, body, AuditContext.of(request))
