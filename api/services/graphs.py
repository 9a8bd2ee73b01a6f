"""Saving graphs as immutable versions (each save on the audit trail); reading, listing,
validating and soft-deleting them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.problems import NotFound, Unprocessable
from api.services import model_routes
from auterity import audit
from auterity.gateway import registry
from auterity.graph.compiler import ExecutionPlan, compile_graph, version_id
from auterity.graph.model import Graph
from auterity.graph.validation import GraphIssue, validate_graph
from auterity.models import utcnow
from auterity.models.graphs import GraphVersion, SavedGraph
from auterity.models.secrets import Secret
from auterity.security.principal import Principal
from auterity.settings import Settings


@dataclass(frozen=True)
class SavedVersion:
    """A graph at one of its versions; on save, `created` says whether the version is new."""

    graph: SavedGraph
    version: GraphVersion
    created: bool | None = None


def issues_as_errors(issues: list[GraphIssue], root: str = "body") -> list[dict[str, Any]]:
    """Engine validation issues in the API's `errors: [{loc, msg}]` shape, keeping node and position."""
    errors = []
    for issue in issues:
        loc: list[Any] = [root]
        if issue.node is not None:
            loc += ["nodes", issue.node]
        loc += [part for part in issue.field.split(".") if part] if issue.field else []
        error: dict[str, Any] = {"loc": loc, "msg": issue.message, "node": issue.node}
        error["field"] = issue.field
        if issue.position is not None:
            error["position"] = issue.position
        errors.append(error)
    return errors


def checked_graph(
    definition: dict[str, Any],
    *,
    known_secrets: set[str] | None = None,
    known_routes: set[str] | None = None,
) -> Graph:
    """The validated graph model, or a 422 naming every node, field and position at fault."""
    issues = validate_graph(definition, known_secrets=known_secrets, known_routes=known_routes)
    if issues:
        errors = issues_as_errors(issues)
        first = errors[0]
        where = f"node '{first['node']}' " if first["node"] else ""
        where += f"field '{first['field']}'" if first["field"] else ""
        raise Unprocessable(
            f"graph is invalid: {where}: {first['msg']}".replace(" : ", ": "), errors=errors
        )
    return Graph.model_validate(definition)


def check(session: Session, settings: Settings, definition: dict[str, Any]) -> Graph:
    """`checked_graph` against the tenant's secrets, its model routes and the platform's,
    and its registry prompts and models."""
    graph = checked_graph(
        definition,
        known_secrets=set(session.scalars(select(Secret.name))),
        known_routes=set(settings.model_routes) | model_routes.route_names(session),
    )
    issues = registry.reference_issues(session, graph)
    if issues:
        first = issues[0]
        raise Unprocessable(
            f"graph is invalid: node '{first.node}' field '{first.field}': {first.message}",
            errors=issues_as_errors(issues),
        )
    return graph


def validate(session: Session, settings: Settings, definition: dict[str, Any]) -> ExecutionPlan:
    """The plan of a valid graph, saving nothing; a 422 naming what is wrong otherwise."""
    return compile_graph(check(session, settings, definition))


def save_version(
    session: Session,
    settings: Settings,
    principal: Principal,
    definition: dict[str, Any],
    *,
    graph_id: str | None = None,
) -> SavedVersion:
    """Create a graph or add a version; saving unchanged content returns the existing version."""
    graph = check(session, settings, definition)
    tenant_id, actor = principal.tenant_id, principal.name
    normalized = graph.model_dump(mode="json", by_alias=True, exclude_none=True)
    vid = version_id(graph)
    if graph_id is None:
        saved = SavedGraph(
            tenant_id=tenant_id, name=graph.name, description=graph.description,
            current_version_id=vid, version_count=1, created_by=actor,
        )  # fmt: skip
        session.add(saved)
        session.flush()
        version = GraphVersion(
            tenant_id=tenant_id, graph_id=saved.id, version_id=vid, number=1,
            definition=normalized, created_by=actor,
        )  # fmt: skip
        session.add(version)
        session.flush()
        return SavedVersion(saved, version, True)

    saved = get_graph(session, graph_id)
    existing = session.scalar(
        select(GraphVersion).where(
            GraphVersion.graph_id == graph_id, GraphVersion.version_id == vid
        )
    )
    if existing is not None:
        if saved.current_version_id != vid:
            saved.current_version_id = vid
            saved.updated_at = utcnow()
        return SavedVersion(saved, existing, False)
    number = (
        session.scalar(
            select(func.max(GraphVersion.number)).where(GraphVersion.graph_id == graph_id)
        )
        or 0
    ) + 1
    version = GraphVersion(
        tenant_id=tenant_id, graph_id=graph_id, version_id=vid, number=number,
        definition=normalized, created_by=actor,
    )  # fmt: skip
    session.add(version)
    saved.name = graph.name
    saved.description = graph.description
    saved.current_version_id = vid
    saved.version_count = number
    saved.updated_at = utcnow()
    session.flush()
    return SavedVersion(saved, version, True)


def get_graph(session: Session, graph_id: str, *, include_deleted: bool = False) -> SavedGraph:
    saved = session.get(SavedGraph, graph_id)
    if saved is None or (saved.deleted_at is not None and not include_deleted):
        raise NotFound(f"graph '{graph_id}' not found")
    return saved


def get_version(session: Session, graph_id: str, version: str | None = None) -> GraphVersion:
    """A version by content id or number; the current one when `version` is None.

    One query: graph and version together (this is on the path of every start)."""
    query = (
        select(SavedGraph, GraphVersion)
        .outerjoin(GraphVersion, GraphVersion.graph_id == SavedGraph.id)
        .where(SavedGraph.id == graph_id)
    )
    if version is None:
        query = query.where(SavedGraph.deleted_at.is_(None))
        query = query.where(GraphVersion.version_id == SavedGraph.current_version_id)
    elif version.isdigit():
        query = query.where(GraphVersion.number == int(version))
    else:
        query = query.where(GraphVersion.version_id == version)
    row = session.execute(query).one_or_none()
    if row is None or row[1] is None:
        get_graph(session, graph_id, include_deleted=version is not None)  # 404 for the graph
        raise NotFound(f"graph '{graph_id}' has no version '{version}'")
    return row[1]  # type: ignore[no-any-return]


def read_graph(session: Session, graph_id: str) -> SavedVersion:
    """A graph at its current version; 404 for an unknown or deleted graph."""
    return SavedVersion(get_graph(session, graph_id), get_version(session, graph_id))


def list_graphs(
    session: Session, *, limit: int, offset: int, name: str | None
) -> list[SavedVersion]:
    """The tenant's graphs at their current versions, most recently changed first."""
    query = select(SavedGraph).where(SavedGraph.deleted_at.is_(None))
    if name:
        query = query.where(SavedGraph.name.contains(name))
    query = query.order_by(SavedGraph.updated_at.desc(), SavedGraph.id).limit(limit).offset(offset)
    return [SavedVersion(saved, get_version(session, saved.id)) for saved in session.scalars(query)]


def list_versions(session: Session, graph_id: str) -> list[GraphVersion]:
    get_graph(session, graph_id, include_deleted=True)
    query = select(GraphVersion).where(GraphVersion.graph_id == graph_id)
    return list(session.scalars(query.order_by(GraphVersion.number.desc())))


def create_graph(
    session: Session,
    settings: Settings,
    principal: Principal,
    definition: dict[str, Any],
    context: audit.AuditContext,
) -> SavedVersion:
    """A new graph whose first version is the definition's content hash."""
    saved = save_version(session, settings, principal, definition)
    audit.record(
        session, principal, "graph.create", request=context,
        targets=[audit.Target("graph", saved.graph.id, saved.graph.name)],
        details={"version_id": saved.version.version_id},
    )  # fmt: skip
    return saved


def update_graph(
    session: Session,
    settings: Settings,
    principal: Principal,
    graph_id: str,
    definition: dict[str, Any],
    context: audit.AuditContext,
) -> SavedVersion:
    """A new version of the graph (recorded), or the existing one for unchanged content."""
    saved = save_version(session, settings, principal, definition, graph_id=graph_id)
    if saved.created:
        audit.record(
            session, principal, "graph.update", request=context,
            targets=[audit.Target("graph", graph_id, saved.graph.name)],
            details={"version_id": saved.version.version_id, "version": saved.version.number},
        )  # fmt: skip
    return saved


def delete_graph(
    session: Session, principal: Principal, graph_id: str, context: audit.AuditContext
) -> None:
    """Soft delete: the graph leaves the list; running executions keep their version."""
    saved = get_graph(session, graph_id)
    saved.deleted_at = utcnow()
    audit.record(
        session, principal, "graph.delete", request=context,
        targets=[audit.Target("graph", graph_id, saved.name)],
    )  # fmt: skip
