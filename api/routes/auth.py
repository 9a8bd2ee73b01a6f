"""Password login, refresh-token rotation, logout and the caller's own identity."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from api.auth import CurrentPrincipal
from api.deps import SessionDep, StateDep
from api.problems import Forbidden, Unauthorized, Unprocessable
from auterity import audit
from auterity.db import transaction
from auterity.models.identity import AuthSession
from auterity.secrets import bind_keyring, keyring
from auterity.security.accounts import tenant_by_id
from auterity.security.authentication import (
    AuthenticationFailed,
    RefreshTokenReused,
    revoke_session,
    rotate_refresh_token,
)
from auterity.security.login import LoginRefused, password_login
from auterity.security.principal import Actor
from auterity.security.tokens import ACCESS_TOKEN_TTL

router = APIRouter(prefix="/v1", tags=["auth"])


class LoginBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"email": "ada@example.com", "password": "correct horse battery staple"},
                {
                    "email": "ada@example.com",
                    "password": "correct horse battery staple",
                    "tenant": "acme",
                },
            ]
        },
    )

    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    tenant: str | None = Field(default=None, max_length=63, description="tenant slug")


class RefreshBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"refresh_token": "art_4bX2q9Lr0sVYtN1cW8mKfJzH3pQe6uDgA7oRiT5yBvE"}]
        },
    )

    refresh_token: str = Field(min_length=1, max_length=200)


class TokenPair(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c3JfMSJ9.c2ln",
                    "refresh_token": "art_4bX2q9Lr0sVYtN1cW8mKfJzH3pQe6uDgA7oRiT5yBvE",
                    "token_type": "bearer",
                    "expires_in": int(ACCESS_TOKEN_TTL.total_seconds()),
                    "tenant": "acme",
                }
            ]
        }
    )

    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int = int(ACCESS_TOKEN_TTL.total_seconds())
    tenant: str


class TenantRead(BaseModel):
    id: str
    slug: str
    name: str


class MeRead(BaseModel):
    kind: str
    id: str
    name: str
    user_id: str | None
    tenant: TenantRead
    roles: list[str]
    permissions: list[str]


@router.post("/auth/login", responses={401: {}, 422: {}, 429: {}})
def login(body: LoginBody, request: Request, state: StateDep, response: Response) -> TokenPair:
    """Trade an email and password for an access token and a refresh token."""
    try:
        result = password_login(
            state.sessions,
            state.settings,
            email=body.email,
            password=body.password,
            tenant_slug=body.tenant,
            request=request,
            now=datetime.now(UTC),
        )
    except LoginRefused as refused:
        if refused.status == 429:
            raise HTTPException(
                429, refused.detail, headers={"Retry-After": str(refused.retry_after or 60)}
            ) from None
        if refused.status == 422:
            raise Unprocessable(refused.detail, errors=refused.errors) from None
        if refused.status == 403:
            raise Forbidden(refused.detail) from None
        raise Unauthorized(refused.detail) from None
    response.headers["Cache-Control"] = "no-store"
    return TokenPair(
        access_token=result.tokens.access_token,
        refresh_token=result.tokens.refresh_token,
        tenant=result.tenant.slug,
    )


@router.post("/auth/refresh", responses={401: {}})
def refresh(body: RefreshBody, request: Request, state: StateDep, response: Response) -> TokenPair:
    """Rotate a refresh token: the old one is spent; presenting it again ends the session."""
    now = datetime.now(UTC)
    reused: RefreshTokenReused | None = None
    try:
        with transaction(state.sessions) as session:
            bind_keyring(session, keyring(state.settings))
            try:
                issued, principal = rotate_refresh_token(
                    session, state.settings, body.refresh_token, now
                )
            except RefreshTokenReused as exc:
                reused = exc
                audit.record(
                    session,
                    Actor(type="user", id=exc.user_id),
                    "auth.refresh_token_reused",
                    targets=[audit.Target("session", exc.session_id)],
                    details={"revoked": "session"},
                    request=request,
                    outcome="denied",
                )
    except AuthenticationFailed:
        raise Unauthorized("the refresh token is invalid, expired or revoked") from None
    if reused is not None:
        raise Unauthorized("the refresh token is invalid, expired or revoked")
    response.headers["Cache-Control"] = "no-store"
    return TokenPair(
        access_token=issued.access_token,
        refresh_token=issued.refresh_token,
        tenant=principal.tenant_slug,
    )


@router.post("/auth/logout", status_code=204, responses={401: {}})
def logout(principal: CurrentPrincipal, session: SessionDep, request: Request) -> Response:
    """End the caller's session: its refresh tokens and access tokens stop working."""
    if principal.session_id is None:
        raise Unprocessable("API keys have no session; revoke them through /v1/api-keys")
    auth = session.scalars(select(AuthSession).where(AuthSession.id == principal.session_id)).one()
    revoke_session(session, auth, "logout", datetime.now(UTC))
    audit.record(
        session,
        principal,
        "auth.logout",
        targets=[audit.Target("session", auth.id)],
        request=request,
    )
    return Response(status_code=204)


@router.get("/me")
def read_me(principal: CurrentPrincipal, session: SessionDep) -> MeRead:
    """The caller: user or API key, its tenant, roles and effective permissions."""
    tenant = tenant_by_id(session, principal.tenant_id)
    assert tenant is not None
    return MeRead(
        kind=principal.kind,
        id=principal.id,
        name=principal.name,
        user_id=principal.user_id,
        tenant=TenantRead(id=tenant.id, slug=tenant.slug, name=tenant.name),
        roles=list(principal.roles),
        permissions=sorted(principal.permissions),
    )
