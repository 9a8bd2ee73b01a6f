"""Where workers read a tenant's routes: the route a node names and the routes it falls
back to, with their versions (what a cached Router is keyed by)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from auterity.db import transaction
from auterity.gateway.routes import RouteConfig
from auterity.models.gateway import ModelRoute
from auterity.models.tenancy import Tenant
from auterity.security.scoping import set_tenant


@dataclass(frozen=True)
class StoredRoute:
    name: str
    version: int
    config: RouteConfig


@dataclass(frozen=True)
class RouteSet:
    """A route and the routes it falls back to, as stored now."""

    tenant_id: str
    primary: StoredRoute
    fallbacks: tuple[StoredRoute, ...]

    @property
    def routes(self) -> tuple[StoredRoute, ...]:
        return (self.primary, *self.fallbacks)

    def signature(self) -> tuple[tuple[str, int], ...]:
        """What a Router built from this set depends on: each route's name and version."""
        return tuple((route.name, route.version) for route in self.routes)


def tenant_id_of(session: Session, slug: str) -> str | None:
    return session.scalars(select(Tenant.id).where(Tenant.slug == slug)).one_or_none()


def load_route_set(session: Session, name: str) -> RouteSet | None:
    """The session tenant's route `name` with its fallbacks; None if it has no such route.
    A fallback deleted since the route was saved is left out."""
    rows = {row.name: row for row in session.scalars(select(ModelRoute))}
    row = rows.get(name)
    if row is None:
        return None
    primary = StoredRoute(row.name, row.version, RouteConfig.model_validate(row.config))
    fallbacks = tuple(
        StoredRoute(rows[n].name, rows[n].version, RouteConfig.model_validate(rows[n].config))
        for n in primary.config.fallback_names()
        if n in rows and n != name
    )
    return RouteSet(row.tenant_id, primary, fallbacks)


class RouteStore:
    """The `llm` activity's source of tenant routes (tenant = slug)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    async def route_set(self, tenant: str, name: str) -> RouteSet | None:
        return await asyncio.to_thread(self._route_set, tenant, name)

    def _route_set(self, tenant_slug: str, name: str) -> RouteSet | None:
        with transaction(self.sessions) as session:
            tenant_id = tenant_id_of(session, tenant_slug)
            if tenant_id is None:
                return None
            set_tenant(session, tenant_id)
            return load_route_set(session, name)
