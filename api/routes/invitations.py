"""Invitations: an admin invites an address; the person accepts, signed in or as a new account."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.auth import CurrentPrincipal, UsersManager
from api.deps import SessionDep, SettingsDep
from api.schemas.invitations import (
    InvitationAccept,
    InvitationAccepted,
    InvitationAcceptNew,
    InvitationCreate,
    InvitationCreated,
    InvitationList,
    InvitationRead,
)
from api.services import invitations as service
from auterity.audit import AuditContext

router = APIRouter(prefix="/invitations", tags=["invitations"])


@router.post("", status_code=201)
def create_invitation(
    body: InvitationCreate, principal: UsersManager, session: SessionDep, request: Request
) -> InvitationCreated:
    """Invite an address to the tenant; the answer never says whether it has an account."""
    return service.create_invitation(session, principal, body, AuditContext.of(request))


@router.get("")
def list_invitations(principal: UsersManager, session: SessionDep) -> InvitationList:
    """The tenant's invitations, newest first."""
    return InvitationList(items=service.list_invitations(session))


@router.get("/{invitation_id}")
def read_invitation(
    invitation_id: str, principal: UsersManager, session: SessionDep
) -> InvitationRead:
    """One of the tenant's invitations."""
    return service.read_invitation(session, invitation_id)


@router.delete("/{invitation_id}", status_code=204)
def revoke_invitation(
    invitation_id: str, principal: UsersManager, session: SessionDep, request: Request
) -> Response:
    """Revoke a pending invitation: its token stops working."""
    service.revoke_invitation(session, principal, invitation_id, AuditContext.of(request))
    return Response(status_code=204)


@router.post("/accept", responses={404: {}, 409: {}})
def accept_invitation(
    body: InvitationAccept, principal: CurrentPrincipal, session: SessionDep, request: Request
) -> InvitationAccepted:
    """Accept an invitation to your own address, signed in: you join its tenant."""
    return service.accept_signed_in(session, principal, body.token, AuditContext.of(request))


@router.post("/accept-new", status_code=201, responses={404: {}, 409: {}, 422: {}})
def accept_invitation_with_new_account(
    body: InvitationAcceptNew, session: SessionDep, settings: SettingsDep, request: Request
) -> InvitationAccepted:
    """Accept an invitation with a new account for its address (the token authenticates)."""
    return service.accept_new_account(
        session, settings, body.token, body.name, body.password, AuditContext.of(request)
    )
