"""Who is calling: the `CurrentPrincipal` dependency, `require(permission)`, the route
dependencies named by the permission they need (`GraphsReader`, `UsersManager`, …), and the
checks on what a caller may grant.

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

from api.deps import session_of, state_of
from api.problems import Forbidden, NotFound, Unauthorized, Unprocessable
from api.state import AppState
from auterity import cache, logs, metrics, telemetry
from auterity.db import transaction
from auterity.graph import naming
from auterity.secrets import bind_keyring, keyring
from auterity.security.accounts import custom_roles, permissions_of
from auterity.security.authentication import AuthenticationFailed, authenticate
from auterity.security.permissions import (
    BUILTIN_ROLES,
    OWNER,
    Permission,
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
        metrics.token_refused(*metrics.token_refusal(exc.reason))
        raise Unauthorized("the credential is invalid, expired or revoked") from None


async def get_principal(request: Request) -> Principal:
    """The authenticated caller; 401 for a missing, malformed, expired or revoked credential.
    Authenticated once per request, in the request's session: a second call returns the
    first's principal."""
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:
        return known
    session = session_of(request)
    credential = bearer_credential(request)
    settings = state_of(request).settings
    principal = await cache.from_cache(
        session, lambda: principal_for(session, settings, credential)
    )
    request.state.principal = principal
    logs.bind(tenant=principal.tenant_slug)
    telemetry.tag_current_span({"tenant": principal.tenant_slug})
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def principal_or_none(state: AppState, credential: str | None) -> Principal | None:
    """The principal behind a credential, or None; for callers that cannot answer 401
    (a WebSocket closes instead). Opens its own session: call it off the event loop."""
    with transaction(state.sessions) as session:
        try:
            return principal_for(session, state.settings, credential)
        except Unauthorized:
            return None


def require(permission: Permission) -> Any:
    """A dependency that yields the principal if it holds `permission`, else answers 403.

    Routes use the aliases below, one per permission, named by what it grants.
    """
    permission = Permission(permission)

    # Authenticates itself rather than depending on `get_principal`: FastAPI solves each
    # dependency of every request anew, one level fewer on (nearly) every route.
    async def _check(request: Request) -> Principal:
        principal = await get_principal(request)
        if not principal.can(permission):
            raise Forbidden(f"this needs the '{permission}' permission")
        return principal

    _check.__name__ = f"require_{permission.replace(':', '_')}"
    return Depends(_check)


GraphsReader = Annotated[Principal, require(Permission.GRAPHS_READ)]
GraphsWriter = Annotated[Principal, require(Permission.GRAPHS_WRITE)]
ExecutionsReader = Annotated[Principal, require(Permission.EXECUTIONS_READ)]
ExecutionsStarter = Annotated[Principal, require(Permission.EXECUTIONS_START)]
ExecutionsCanceller = Annotated[Principal, require(Permission.EXECUTIONS_CANCEL)]
TasksCompleter = Annotated[Principal, require(Permission.TASKS_COMPLETE)]
TemplatesWriter = Annotated[Principal, require(Permission.TEMPLATES_WRITE)]
TriggersManager = Annotated[Principal, require(Permission.TRIGGERS_MANAGE)]
SecretsManager = Annotated[Principal, require(Permission.SECRETS_MANAGE)]
BudgetsManager = Annotated[Principal, require(Permission.BUDGETS_MANAGE)]
RoutesManager = Annotated[Principal, require(Permission.ROUTES_MANAGE)]
RegistryManager = Annotated[Principal, require(Permission.REGISTRY_MANAGE)]
SpendReader = Annotated[Principal, require(Permission.SPEND_READ)]
AuditReader = Annotated[Principal, require(Permission.AUDIT_READ)]
UsersManager = Annotated[Principal, require(Permission.USERS_MANAGE)]
SsoManager = Annotated[Principal, require(Permission.SSO_MANAGE)]
TenantManager = Annotated[Principal, require(Permission.TENANT_MANAGE)]


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
