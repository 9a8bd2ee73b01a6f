"""Who is calling: the `CurrentPrincipal` dependency, `require(permission)`, tenant checks.

The credential is `Authorization: Bearer <access token | API key>`. The tenant
comes from the verified credential only; resolving it scopes the request's
database session (`auterity.security.scoping`), so every query the route makes
afterwards sees that tenant's rows and nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.requests import HTTPConnection

from api.deps import SessionDep, state_of
from api.problems import Forbidden, NotFound, Unauthorized, Unprocessable
from auterity import cache
from auterity.graph import naming
from auterity.secrets import bind_keyring, keyring
from auterity.security.accounts import custom_roles, permissions_of
from auterity.security.authentication import AuthenticationFailed, authenticate
from auterity.security.permissions import (
    BUILTIN_ROLES,
    OWNER,
    PERMISSION_SET,
    unknown_permissions,
)
from auterity.security.principal import Principal
from auterity.settings import Settings

log = logging.getLogger("auterity.auth")


def bearer_credential(connection: HTTPConnection) -> str | None:
    scheme, _, credential = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        return None
    return credential.strip()


def principal_for(session: Session, settings: Settings, credential: str | None) -> Principal:
    """The principal behind a bearer credential; 401 when missing, invalid, expired or revoked."""
    if credential is None:
        raise Unauthorized("send 'Authorization: Bearer <access token or API key>'")
    bind_keyring(session, keyring(settings))
    try:
        return authenticate(session, settings, credential, datetime.now(UTC))
    except AuthenticationFailed as exc:
        log.info("credential refused: %s", exc.reason)
        raise Unauthorized("the credential is invalid, expired or revoked") from None


async def get_principal(request: Request, session: SessionDep) -> Principal:
    """The authenticated caller; 401 for a missing, malformed, expired or revoked credential."""
    credential = bearer_credential(request)
    settings = state_of(request).settings
    principal = await cache.from_cache(
        session, lambda: principal_for(session, settings, credential)
    )
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require(permission: str) -> Any:
    """A dependency that yields the principal if it holds `permission`, else answers 403.

    Use as `principal: Annotated[Principal, require("graphs:write")]`.
    """
    if permission not in PERMISSION_SET:
        raise ValueError(f"unknown permission {permission!r}")

    async def _check(principal: CurrentPrincipal) -> Principal:
        if not principal.can(permission):
            raise Forbidden(f"this needs the '{permission}' permission")
        return principal

    _check.__name__ = f"require_{permission.replace(':', '_')}"
    return Depends(_check)


def ensure_workflow_in_tenant(workflow_id: str, tenant_slug: str) -> str:
    """`workflow_id` if it belongs to the tenant, else 404 (never 403: no hint it exists)."""
    if not naming.in_tenant(workflow_id, tenant_slug):
        raise NotFound(f"execution {workflow_id!r} not found")
    return workflow_id


def ensure_grantable(
    session: Session, principal: Principal, roles: Iterable[str], *, field: str = "roles"
) -> list[str]:
    """The role names, checked: each exists in the tenant and grants nothing the caller lacks.

    Unknown roles are a 422 naming the field; a role with more permissions than the
    caller holds, or the owner role granted by a non-owner, is a 403.
    """
    names = sorted(set(roles))
    known = set(BUILTIN_ROLES) | set(custom_roles(session))
    unknown = [name for name in names if name not in known]
    if unknown:
        raise Unprocessable(
            f"{field}: unknown role(s) {', '.join(unknown)}",
            errors=[{"loc": ["body", field], "msg": f"unknown role {name!r}"} for name in unknown],
        )
    for name in names:
        if name == OWNER and OWNER not in principal.roles:
            raise Forbidden("only an owner can grant or remove the owner role")
        excess = permissions_of(session, [name]) - principal.permissions
        if excess:
            raise Forbidden(
                f"role {name!r} grants permissions you do not hold: {', '.join(sorted(excess))}"
            )
    return names


def ensure_permissions_held(
    principal: Principal, permissions: Iterable[str], *, field: str
) -> list[str]:
    """The permission names, checked: all exist (else 422) and the caller holds them (else 403)."""
    names = sorted(set(permissions))
    unknown = unknown_permissions(names)
    if unknown:
        raise Unprocessable(
            f"{field}: unknown permission(s) {', '.join(unknown)}",
            errors=[
                {"loc": ["body", field], "msg": f"unknown permission {name!r}"} for name in unknown
            ],
        )
    excess = set(names) - principal.permissions
    if excess:
        raise Forbidden(f"{field}: you do not hold {', '.join(sorted(excess))}")
    return names
