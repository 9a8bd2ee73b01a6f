"""Graphs: immutable content-hashed versions and validation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.auth import GraphsReader, GraphsWriter
from api.deps import SessionDep, SettingsDep
from api.schemas import Offset
from api.schemas.graphs import GraphDefinition, GraphRead, GraphVersionRead, ValidationResult
from api.services import graphs as service
from auterity.audit import AuditContext

router = APIRouter(prefix="/graphs", tags=["graphs"])


@router.get("", response_model=list[GraphRead], response_model_exclude_none=True)
def list_graphs(
    session: SessionDep,
    _principal: GraphsReader,
    name: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> list[GraphRead]:
    """The tenant's graphs, most recently changed first."""
    graphs = service.list_graphs(session, limit=limit, offset=offset, name=name)
    return [
        GraphRead.model_validate(graph, from_attributes=True).model_copy(
            update={"definition": None}
        )
        for graph in graphs
    ]


@router.post("", status_code=201, response_model=GraphRead, response_model_exclude_none=True)
def create_graph(
    definition: GraphDefinition,
    session: SessionDep,
    settings: SettingsDep,
    principal: GraphsWriter,
    request: Request,
) -> GraphRead:
    """Create a graph; its first version is the content hash of the definition."""
    saved = service.create_graph(session, settings, principal, definition, AuditContext.of(request))
    return GraphRead.model_validate(saved, from_attributes=True)


@router.post("/validate", response_model=ValidationResult)
def validate_graph(
    definition: GraphDefinition,
    session: SessionDep,
    settings: SettingsDep,
    _principal: GraphsWriter,
) -> ValidationResult:
    """Validate without saving: 200 with the version id, or 422 naming node, field and position."""
    plan = service.validate(session, settings, definition)
    return ValidationResult(
        valid=True, version_id=plan.version_id, nodes=len(plan.nodes), order=list(plan.nodes)
    )


@router.get("/{graph_id}", response_model=GraphRead, response_model_exclude_none=True)
def read_graph(graph_id: str, session: SessionDep, _principal: GraphsReader) -> GraphRead:
    """A graph with its current version's definition."""
    return GraphRead.model_validate(service.read_graph(session, graph_id), from_attributes=True)


@router.put("/{graph_id}", response_model=GraphRead, response_model_exclude_none=True)
def update_graph(
    graph_id: str,
    definition: GraphDefinition,
    session: SessionDep,
    settings: SettingsDep,
    principal: GraphsWriter,
    request: Request,
    response: Response,
) -> GraphRead:
    """Save a new version (unchanged content returns the existing version, `created: false`)."""
    saved = service.update_graph(
        session, settings, principal, graph_id, definition, AuditContext.of(request)
    )
    response.status_code = 200
    return GraphRead.model_validate(saved, from_attributes=True)


@router.delete("/{graph_id}", status_code=204)
def delete_graph(
    graph_id: str, session: SessionDep, principal: GraphsWriter, request: Request
) -> Response:
    """Soft delete: the graph leaves the list; running executions are unaffected."""
    service.delete_graph(session, principal, graph_id, AuditContext.of(request))
    return Response(status_code=204)


@router.get(
    "/{graph_id}/versions",
    response_model=list[GraphVersionRead],
    response_model_exclude_none=True,
)
def list_graph_versions(
    graph_id: str,
    session: SessionDep,
    _principal: GraphsReader,
    definitions: Annotated[bool, Query(description="Include each definition")] = False,
) -> list[GraphVersionRead]:
    """Every version, newest first."""
    reads = [
        GraphVersionRead.model_validate(version, from_attributes=True)
        for version in service.list_versions(session, graph_id)
    ]
    return (
        reads if definitions else [read.model_copy(update={"definition": None}) for read in reads]
    )
