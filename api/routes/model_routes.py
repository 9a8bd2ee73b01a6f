"""A tenant's model routes (`routes:manage`): what `{"route": "<name>"}` in an llm node
reaches, with fallbacks, load balancing, cooldowns and timeouts."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.auth import RoutesManager
from api.deps import SessionDep, SettingsDep
from api.schemas.model_routes import RouteCreate, RouteList, RouteRead, RouteUpdate
from api.services import model_routes as service
from auterity import audit
from auterity.models.gateway import ModelRoute

router = APIRouter(prefix="/routes", tags=["routes"])


def _read(row: ModelRoute) -> RouteRead:
    return RouteRead.model_validate(row, from_attributes=True)


@router.get("")
def list_routes(principal: RoutesManager, session: SessionDep, settings: SettingsDep) -> RouteList:
    """The tenant's routes by name, and the platform's route names."""
    return RouteList(
        items=[_read(row) for row in service.list_routes(session)],
        platform_routes=sorted(settings.model_routes),
    )


@router.post("", status_code=201)
def create_route(
    body: RouteCreate,
    principal: RoutesManager,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
) -> RouteRead:
    """Save a new route (version 1); 409 if the name is taken, 422 naming the field at fault."""
    row = service.create_route(session, settings, principal, body, audit.AuditContext.of(request))
    return _read(row)


@router.get("/{name}")
def read_route(name: str, principal: RoutesManager, session: SessionDep) -> RouteRead:
    """One route with its current version."""
    return _read(service.get_route(session, name))


@router.put("/{name}")
def put_route(
    name: str,
    body: RouteUpdate,
    principal: RoutesManager,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
) -> RouteRead:
    """Replace a route's configuration; workers use the new version from their next call."""
    row = service.put_route(
        session, settings, principal, name, body, audit.AuditContext.of(request)
    )
    return _read(row)


@router.delete("/{name}", status_code=204)
def delete_route(
    name: str, principal: RoutesManager, session: SessionDep, request: Request
) -> Response:
    """Delete a route; 409 while another route falls back to it."""
    service.delete_route(session, principal, name, audit.AuditContext.of(request))
    return Response(status_code=204)
