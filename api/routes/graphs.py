"""Graphs: immutable content-hashed versions, validation, and the builder's schemas."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response
from sqlalchemy import select

from api.auth import GraphsReader, GraphsWriter
from api.deps import SessionDep, SettingsDep
from api.schemas import GraphRead, GraphVersionRead, ValidationResult
from api.services import graphs as service
from auterity import audit
from auterity.audit import Target
from auterity.graph.compiler import compile_graph
from auterity.graph.kinds import graph_schema, kind_schemas
from auterity.models.graphs import GraphVersion, SavedGraph
from auterity.models.secrets import Secret

router = APIRouter(prefix="/v1", tags=["graphs"])


GRAPH_EXAMPLE = {
    "name": "hello",
    "inputs": {"type": "object", "properties": {"name": {"type": "string"}}},
    "nodes": [
        {"id": "greet", "type": "transform", "config": {"value": "Hello {{ inputs.name }}"}},
    ],
    "edges": [],
}
GraphBody = Annotated[dict[str, Any], Body(examples=[GRAPH_EXAMPLE])]


def graph_read(
    saved: SavedGraph, version: GraphVersion, *, created: bool | None = None
) -> GraphRead:
    return GraphRead(
        id=saved.id, name=saved.name, description=saved.description,
        version_id=version.version_id, version=version.number, versions=saved.version_count,
        created_at=saved.created_at, updated_at=saved.updated_at, created_by=saved.created_by,
        definition=version.definition, created=created,
    )  # fmt: skip


def known_secrets(session: SessionDep) -> set[str]:
    return set(session.scalars(select(Secret.name)))


def known_routes(settings: SettingsDep) -> set[str]:
    return set(settings.model_routes)


@router.get("/graphs", response_model=list[GraphRead], response_model_exclude_none=True)
def list_graphs(
    session: SessionDep,
    _principal: GraphsReader,
    name: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[GraphRead]:
    """The tenant's graphs, most recently changed first."""
    graphs = service.list_graphs(session, limit=limit, offset=offset, name=name)
    return [
        graph_read(g, service.get_version(session, g.id)).model_copy(update={"definition": None})
        for g in graphs
    ]


@router.post("/graphs", status_code=201, response_model=GraphRead, response_model_exclude_none=True)
def create_graph(
    definition: GraphBody,
    session: SessionDep,
    settings: SettingsDep,
    principal: GraphsWriter,
    request: Request,
) -> GraphRead:
    """Create a graph; its first version is the content hash of the definition."""
    saved = service.save_version(
        session, principal.tenant_id, definition, actor=principal.name,
        known_secrets=known_secrets(session), known_routes=known_routes(settings),
    )  # fmt: skip
    audit.record(
        session, principal, "graph.create", request=request,
        targets=[Target("graph", saved.graph.id, saved.graph.name)],
        details={"version_id": saved.version.version_id},
    )  # fmt: skip
    return graph_read(saved.graph, saved.version, created=True)


@router.post("/graphs/validate", response_model=ValidationResult)
def validate_graph(
    definition: GraphBody, session: SessionDep, settings: SettingsDep, _principal: GraphsWriter
) -> ValidationResult:
    """Validate without saving: 200 with the version id, or 422 naming node, field and position."""
    graph = service.checked_graph(
        definition, known_secrets=known_secrets(session), known_routes=known_routes(settings)
    )
    plan = compile_graph(graph)
    return ValidationResult(
        valid=True, version_id=plan.version_id, nodes=len(plan.nodes), order=list(plan.nodes)
    )


@router.get("/graphs/{graph_id}", response_model=GraphRead, response_model_exclude_none=True)
def read_graph(graph_id: str, session: SessionDep, _principal: GraphsReader) -> GraphRead:
    """A graph with its current version's definition."""
    saved = service.get_graph(session, graph_id)
    return graph_read(saved, service.get_version(session, graph_id))


@router.put("/graphs/{graph_id}", response_model=GraphRead, response_model_exclude_none=True)
def update_graph(
    graph_id: str,
    definition: GraphBody,
    session: SessionDep,
    settings: SettingsDep,
    principal: GraphsWriter,
    request: Request,
    response: Response,
) -> GraphRead:
    """Save a new version (unchanged content returns the existing version, `created: false`)."""
    saved = service.save_version(
        session, principal.tenant_id, definition, actor=principal.name, graph_id=graph_id,
        known_secrets=known_secrets(session), known_routes=known_routes(settings),
    )  # fmt: skip
    if saved.created:
        audit.record(
            session, principal, "graph.update", request=request,
            targets=[Target("graph", graph_id, saved.graph.name)],
            details={"version_id": saved.version.version_id, "version": saved.version.number},
        )  # fmt: skip
    response.status_code = 200
    return graph_read(saved.graph, saved.version, created=saved.created)


@router.delete("/graphs/{graph_id}", status_code=204)
def delete_graph(
    graph_id: str, session: SessionDep, principal: GraphsWriter, request: Request
) -> Response:
    """Soft delete: the graph leaves the list; running executions are unaffected."""
    saved = service.delete_graph(session, graph_id)
    audit.record(
        session, principal, "graph.delete", request=request,
        targets=[Target("graph", graph_id, saved.name)],
    )  # fmt: skip
    return Response(status_code=204)


@router.get(
    "/graphs/{graph_id}/versions",
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
    return [
        GraphVersionRead(
            graph_id=v.graph_id,
            version_id=v.version_id,
            number=v.number,
            created_at=v.created_at,
            created_by=v.created_by,
            definition=v.definition if definitions else None,
        )  # fmt: skip
        for v in service.list_versions(session, graph_id)
    ]


@router.get("/schema/graph", tags=["schema"])
def read_graph_schema(_principal: GraphsReader) -> dict[str, Any]:
    """The JSON Schema of a graph, each node's config tied to its kind."""
    return graph_schema()


@router.get("/node-kinds", tags=["schema"])
def list_node_kinds(_principal: GraphsReader) -> dict[str, Any]:
    """Every node kind with the JSON Schema of its config and how it runs."""
    return kind_schemas()
