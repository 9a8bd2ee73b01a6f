"""Templates: the built-in gallery plus the tenant's own, instantiated into graph versions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.auth import GraphsReader, GraphsWriter, TemplatesWriter
from api.deps import SessionDep, SettingsDep
from api.schemas import MAX_VERSION
from api.schemas.graphs import GraphRead
from api.schemas.templates import TemplateCreate, TemplateInstantiate, TemplateRead
from api.services import templates as service
from auterity.audit import AuditContext

router = APIRouter(prefix="/templates", tags=["templates"])


@router.get("", response_model=list[TemplateRead], response_model_exclude_none=True)
def list_templates(
    session: SessionDep,
    _principal: GraphsReader,
    tag: Annotated[str | None, Query(max_length=50)] = None,
) -> list[TemplateRead]:
    """The built-in gallery and the tenant's templates (latest version of each)."""
    return [
        TemplateRead.model_validate(spec, from_attributes=True).model_copy(update={"graph": None})
        for spec in service.list_templates(session, tag=tag)
    ]


@router.post("", status_code=201, response_model=TemplateRead)
def create_template(
    body: TemplateCreate, session: SessionDep, principal: TemplatesWriter, request: Request
) -> TemplateRead:
    """Save a template; saving an existing id adds a version."""
    spec = service.create_template(session, principal, body, AuditContext.of(request))
    return TemplateRead.model_validate(spec, from_attributes=True)


@router.get("/{template_id}", response_model=TemplateRead)
def read_template(
    template_id: str,
    session: SessionDep,
    _principal: GraphsReader,
    version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
) -> TemplateRead:
    """One template with its graph and parameter schema."""
    spec = service.find_template(session, template_id, version)
    return TemplateRead.model_validate(spec, from_attributes=True)


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
    saved = service.instantiate_template(
        session, settings, principal, template_id, body, AuditContext.of(request)
    )
    return GraphRead.model_validate(saved, from_attributes=True)
