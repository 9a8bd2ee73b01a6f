"""Password login, refresh-token rotation, logout and the caller's own identity.

Its paths are `/auth/…` and `/me`, so the router has no prefix of its own.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.auth import CurrentPrincipal
from api.deps import SessionDep, StateDep
from api.schemas.auth import LoginBody, MeRead, PasswordChange, RefreshBody, TokenPair
from api.schemas.users import PasswordSet
from api.services import auth as service
from auterity.audit import AuditContext

router = APIRouter(tags=["auth"])


@router.post("/auth/login", responses={401: {}, 422: {}, 429: {}})
def login(body: LoginBody, request: Request, state: StateDep, response: Response) -> TokenPair:
    """Trade an email and password for an access token and a refresh token."""
    tokens = service.login(state.sessions, state.settings, body, AuditContext.of(request))
    response.headers["Cache-Control"] = "no-store"
    return tokens


@router.post("/auth/refresh", responses={401: {}})
def refresh(body: RefreshBody, request: Request, state: StateDep, response: Response) -> TokenPair:
    """Rotate a refresh token: the old one is spent; presenting it again ends the session."""
    tokens = service.refresh(
        state.sessions, state.settings, body.refresh_token, AuditContext.of(request)
    )
    response.headers["Cache-Control"] = "no-store"
    return tokens


@router.post("/auth/logout", status_code=204, responses={401: {}})
def logout(principal: CurrentPrincipal, session: SessionDep, request: Request) -> Response:
    """End the caller's session: its refresh tokens and access tokens stop working."""
    service.logout(session, principal, AuditContext.of(request))
    return Response(status_code=204)


@router.get("/me")
def read_me(principal: CurrentPrincipal, session: SessionDep) -> MeRead:
    """The caller: user or API key, its tenant, roles and effective permissions."""
    return MeRead.model_validate(service.caller(session, principal), from_attributes=True)


@router.post("/me/password", responses={403: {}, 422: {}, 429: {}})
def change_my_password(
    body: PasswordChange,
    principal: CurrentPrincipal,
    session: SessionDep,
    request: Request,
) -> PasswordSet:
    """Change your own password (the current one is required); every session of yours ends."""
    return service.change_password(session, principal, body, AuditContext.of(request))
