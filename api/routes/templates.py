"""Templates: the built-in gallery plus the tenant's own, instantiated into graph versions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy import func, select

from api.auth import GraphsReader, GraphsWriter, TemplatesWriter
from api.deps import SessionDep, SettingsDep
from api.problems import Conflict, NotFound
from api.routes.graphs import graph_read, known_routes, known_secrets
from api.schemas import GraphRead, TemplateCreate, TemplateInstantiate, TemplateRead
from api.services import graphs as graph_service
from api.services.templates import TemplateSpec, check_template, gallery, instantiate
from auterity import audit
from auterity.audit import Target
from auterity.models.graphs import GraphTemplate

router = APIRouter(prefix="/v1/templates", tags=["templates"])


def _spec(row: GraphTemplate) -> TemplateSpec:
    return TemplateSpec(
        id=row.template_id, name=row.name, description=row.description,
        parameters=row.parameters, graph=row.graph, version=row.version, builtin=False,
    )  # fmt: skip


def _read(spec: TemplateSpec, *, with_graph: bool) -> TemplateRead:
    return TemplateRead(
        id=spec.id, name=spec.name, description=spec.description, version=spec.version,
        builtin=spec.builtin, tags=spec.tags, parameters=spec.parameters,
        graph=spec.graph if with_graph else None,
    )  # fmt: skip


def find_template(
    session: SessionDep, template_id: str, version: int | None = None
) -> TemplateSpec:
    builtin = gallery().get(template_id)
    if builtin is not None:
        if version not in (None, builtin.version):
            raise NotFound(f"template '{template_id}' has no version {version}")
        return builtin
    query = select(GraphTemplate).where(GraphTemplate.template_id == template_id)
    query = query.where(GraphTemplate.version == version) if version else query
    row = session.scalars(query.order_by(GraphTemplate.version.desc()).limit(1)).first()
    if row is None:
        raise NotFound(f"template '{template_id}' not found")
    return _spec(row)


@router.get("", response_model=list[TemplateRead], response_model_exclude_none=True)
def list_templates(
    session: SessionDep,
    _principal: GraphsReader,
    tag: Annotated[str | None, Query(max_length=50)] = None,
) -> list[TemplateRead]:
    """The built-in gallery and the tenant's templates (latest version of each)."""
    specs = list(gallery().values())
    latest = (
        select(GraphTemplate.template_id, func.max(GraphTemplate.version).label("version"))
        .group_by(GraphTemplate.template_id)
        .subquery()
    )
    rows = session.scalars(
        select(GraphTemplate).join(
            latest,
            (GraphTemplate.template_id == latest.c.template_id)
            & (GraphTemplate.version == latest.c.version),
        )
    )
    specs += [_spec(row) for row in rows]
    return [_read(spec, with_graph=False) for spec in specs if tag is None or tag in spec.tags]


@router.post("", status_code=201, response_model=TemplateRead)
def create_template(
    body: TemplateCreate, session: SessionDep, principal: TemplatesWriter, request: Request
) -> TemplateRead:
    """Save a template; saving an existing id adds a version."""
    if body.id in gallery():
        raise Conflict(f"template id '{body.id}' is a built-in template")
    check_template(body.parameters, body.graph)
    current = session.scalar(
        select(func.max(GraphTemplate.version)).where(GraphTemplate.template_id == body.id)
    )
    row = GraphTemplate(
        tenant_id=principal.tenant_id, template_id=body.id, version=(current or 0) + 1,
        name=body.name, description=body.description, parameters=body.parameters,
        graph=body.graph, created_by=principal.name,
    )  # fmt: skip
    session.add(row)
    session.flush()
    audit.record(
        session, principal, "template.save", request=request,
        targets=[Target("template", body.id, body.name)], details={"version": row.version},
    )  # fmt: skip
    return _read(_spec(row), with_graph=True)


@router.get("/{template_id}", response_model=TemplateRead)
def read_template(
    template_id: str,
    session: SessionDep,
    _principal: GraphsReader,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> TemplateRead:
    """One template with its graph and parameter schema."""
    return _read(find_template(session, template_id, version), with_graph=True)


@router.post(
    "/{template_id}/instantiate",
    status_code=201,
    response_model=GraphRead,
    response_model_exclude_none=True,
)
def instantiate_template(
    template_id: str,
    body: TemplateInstantiate,
    session: SessionDep,
    settings: SettingsDep,
    principal: GraphsWriter,
    request: Request,
) -> GraphRead:
    """Resolve `{{ params.x }}` with validated params and save the result as a graph version."""
    spec = find_template(session, template_id, body.version)
    definition = instantiate(spec, body.params)
    saved = graph_service.save_version(
        session, principal.tenant_id, definition, actor=principal.name, graph_id=body.graph_id,
        known_secrets=known_secrets(session), known_routes=known_routes(settings),
    )  # fmt: skip
    audit.record(
        session, principal, "template.instantiate", request=request,
        targets=[Target("template", spec.id, spec.name), Target("graph", saved.graph.id)],
        details={"template_version": spec.version, "version_id": saved.version.version_id},
    )  # fmt: skip
    return graph_read(saved.graph, saved.version, created=saved.created)
