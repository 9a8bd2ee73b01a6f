"""A tenant's model routes: saved whole, versioned, audited, checked before they are saved.

What the body's schema cannot check is checked here against the tenant: fallbacks name
routes it has, keys name secrets it has, api_bases pass the egress policy (an address
refused outright is refused now; a host name is resolved and checked by the worker at
each call), and production refuses mock models.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.problems import Conflict, NotFound, Unprocessable
from api.schemas.model_routes import RouteCreate, RouteUpdate
from auterity import audit
from auterity.egress import EgressRefused
from auterity.gateway.routes import RouteConfig
from auterity.models.base import utcnow
from auterity.models.gateway import ModelRoute
from auterity.models.secrets import Secret
from auterity.security.principal import Principal
from auterity.settings import Settings

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def list_routes(session: Session) -> list[ModelRoute]:
    return list(session.scalars(select(ModelRoute).order_by(ModelRoute.name)))


def route_names(session: Session) -> set[str]:
    """The tenant's route names (what graphs may name, beside the platform's)."""
    return set(session.scalars(select(ModelRoute.name)))


def get_route(session: Session, name: str) -> ModelRoute:
    row = session.scalars(select(ModelRoute).where(ModelRoute.name == name)).one_or_none()
    if row is None:
        raise NotFound(f"route {name!r} not found")
    return row


def create_route(
    session: Session,
    settings: Settings,
    principal: Principal,
    body: RouteCreate,
    context: audit.AuditContext,
) -> ModelRoute:
    """Save a new route; 409 if the name is taken, 422 naming the field at fault."""
    if session.scalars(select(ModelRoute.id).where(ModelRoute.name == body.name)).first():
        raise Conflict(f"route {body.name!r} exists; PUT /v1/routes/{body.name} replaces it")
    config = RouteConfig.model_validate(body.model_dump(exclude={"name"}))
    _check(session, settings, body.name, config)
    row = ModelRoute(
        name=body.name,
        config=config.model_dump(mode="json"),
        version=1,
        created_by=principal.user_id,
    )
    session.add(row)
    session.flush()
    _record(session, principal, "routes.created", row, context)
    return row


def put_route(
    session: Session,
    settings: Settings,
    principal: Principal,
    name: str,
    body: RouteUpdate,
    context: audit.AuditContext,
) -> ModelRoute:
    """Replace a route's configuration: a new version, which workers pick up on their next
    call."""
    row = get_route(session, name)
    config = RouteConfig.model_validate(body.model_dump())
    _check(session, settings, name, config)
    row.config = config.model_dump(mode="json")
    row.version += 1
    row.updated_at = utcnow()
    session.flush()
    _record(session, principal, "routes.updated", row, context)
    return row


def delete_route(
    session: Session, principal: Principal, name: str, context: audit.AuditContext
) -> None:
    """Delete a route; 409 while another route falls back to it."""
    row = get_route(session, name)
    users = sorted(
        other.name
        for other in list_routes(session)
        if other.name != name and name in RouteConfig.model_validate(other.config).fallback_names()
    )
    if users:
        raise Conflict(f"route {name!r} is a fallback of {', '.join(users)}; change those first")
    _record(session, principal, "routes.deleted", row, context)
    session.delete(row)
    session.flush()


def _check(session: Session, settings: Settings, name: str, config: RouteConfig) -> None:
    errors: list[dict[str, Any]] = []
    known = route_names(session) | set(settings.model_routes)
    for field in ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks"):
        for index, fallback in enumerate(getattr(config, field)):
            if fallback == name:
                errors.append(_error([field, index], "a route cannot fall back to itself"))
            elif fallback not in route_names(session):
                where = " (platform routes cannot be fallbacks)" if fallback in known else ""
                errors.append(_error([field, index], f"unknown route {fallback!r}{where}"))
    if config.cache_seconds is not None and not settings.redis_url:
        errors.append(
            _error(["cache_seconds"], "no response cache is configured (AUTERITY_REDIS_URL)")
        )
    secrets = set(session.scalars(select(Secret.name)))
    for index, deployment in enumerate(config.deployments):
        at = ["deployments", index]
        if deployment.api_key_secret is not None and deployment.api_key_secret not in secrets:
            errors.append(
                _error([*at, "api_key_secret"], f"unknown secret {deployment.api_key_secret!r}")
            )
        if deployment.is_mock and settings.env == "production":
            errors.append(_error([*at, "model"], "mock models are refused in production"))
        if deployment.api_base is not None:
            refusal = _egress_refusal(settings, deployment.api_base)
            if refusal is not None:
                errors.append(_error([*at, "api_base"], refusal))
    if errors:
        first = errors[0]
        where = ".".join(str(part) for part in first["loc"][1:])
        raise Unprocessable(f"{where}: {first['msg']}", errors=errors)


def _egress_refusal(settings: Settings, api_base: str) -> str | None:
    """Why the egress policy refuses `api_base` outright (an address, or a loopback name)."""
    host = urlsplit(api_base).hostname or ""
    policy = settings.egress_policy
    if policy.allows_host(host):
        return None
    if host.lower() in LOOPBACK_NAMES:
        address = "127.0.0.1"
    else:
        try:
            address = str(ipaddress.ip_address(host.strip("[]")))
        except ValueError:
            return None  # a name: resolved and checked by the worker before each call
    try:
        policy.check(host, address)
    except EgressRefused as exc:
        return str(exc)
    return None


def _error(loc: list[Any], msg: str) -> dict[str, Any]:
    return {"loc": ["body", *loc], "msg": msg}


def _record(
    session: Session,
    principal: Principal,
    action: str,
    row: ModelRoute,
    context: audit.AuditContext,
) -> None:
    audit.record(
        session,
        principal,
        action,
        targets=[audit.Target("route", row.id, row.name)],
        details={"version": row.version, "config": row.config},
        request=context,
    )
