"""The registry (`registry:manage`): prompts and models with immutable versions and
movable aliases; llm nodes name prompts as `prompt_ref: "<name>@<alias or version>"`."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.auth import RegistryManager
from api.deps import SessionDep
from api.schemas.registry import (
    AliasUpdate,
    ModelCreate,
    ModelVersionCreate,
    PromptCreate,
    PromptVersionCreate,
    RegistryEntryList,
    RegistryEntryRead,
)
from api.services import registry as service
from auterity import audit
from auterity.gateway.registry import RegistryKind

router = APIRouter(prefix="/registry", tags=["registry"])
PROMPT, MODEL = RegistryKind.PROMPT, RegistryKind.MODEL


@router.get("/prompts")
def list_prompts(principal: RegistryManager, session: SessionDep) -> RegistryEntryList:
    """The tenant's prompts with their versions and aliases."""
    return RegistryEntryList(items=service.list_entries(session, PROMPT))


@router.post("/prompts", status_code=201)
def create_prompt(
    body: PromptCreate, principal: RegistryManager, session: SessionDep, request: Request
) -> RegistryEntryRead:
    """A new prompt with version 1; 409 if the name is taken."""
    spec = body.spec.model_dump(mode="json", exclude_none=True)
    row = service.create_entry(
        session, principal, PROMPT, body.name, spec, audit.AuditContext.of(request)
    )
    return service.read_entry(session, row)


@router.get("/prompts/{name}")
def read_prompt(name: str, principal: RegistryManager, session: SessionDep) -> RegistryEntryRead:
    """One prompt: every version and where each alias points."""
    return service.read_entry(session, service.get_entry(session, PROMPT, name))


@router.post("/prompts/{name}/versions", status_code=201)
def create_prompt_version(
    name: str,
    body: PromptVersionCreate,
    principal: RegistryManager,
    session: SessionDep,
    request: Request,
) -> RegistryEntryRead:
    """Append an immutable version; aliases do not move."""
    row = service.get_entry(session, PROMPT, name)
    spec = body.spec.model_dump(mode="json", exclude_none=True)
    service.add_version(session, principal, row, spec, audit.AuditContext.of(request))
    return service.read_entry(session, row)


@router.put("/prompts/{name}/aliases/{alias}")
def put_prompt_alias(
    name: str,
    alias: str,
    body: AliasUpdate,
    principal: RegistryManager,
    session: SessionDep,
    request: Request,
) -> RegistryEntryRead:
    """Point an alias at a version; runs already started keep the version they pinned."""
    row = service.get_entry(session, PROMPT, name)
    service.move_alias(session, principal, row, alias, body.version, audit.AuditContext.of(request))
    return service.read_entry(session, row)


@router.get("/models")
def list_models(principal: RegistryManager, session: SessionDep) -> RegistryEntryList:
    """The tenant's models with their versions and aliases."""
    return RegistryEntryList(items=service.list_entries(session, MODEL))


@router.post("/models", status_code=201)
def create_model(
    body: ModelCreate, principal: RegistryManager, session: SessionDep, request: Request
) -> RegistryEntryRead:
    """A new model with version 1; 409 if the name is taken."""
    spec = body.spec.model_dump(mode="json", exclude_none=True)
    row = service.create_entry(
        session, principal, MODEL, body.name, spec, audit.AuditContext.of(request)
    )
    return service.read_entry(session, row)


@router.get("/models/{name}")
def read_model(name: str, principal: RegistryManager, session: SessionDep) -> RegistryEntryRead:
    """One model: every version and where each alias points."""
    return service.read_entry(session, service.get_entry(session, MODEL, name))


@router.post("/models/{name}/versions", status_code=201)
def create_model_version(
    name: str,
    body: ModelVersionCreate,
    principal: RegistryManager,
    session: SessionDep,
    request: Request,
) -> RegistryEntryRead:
    """Append an immutable version; aliases do not move."""
    row = service.get_entry(session, MODEL, name)
    spec = body.spec.model_dump(mode="json", exclude_none=True)
    service.add_version(session, principal, row, spec, audit.AuditContext.of(request))
    return service.read_entry(session, row)


@router.put("/models/{name}/aliases/{alias}")
def put_model_alias(
    name: str,
    alias: str,
    body: AliasUpdate,
    principal: RegistryManager,
    session: SessionDep,
    request: Request,
) -> RegistryEntryRead:
    """Point an alias at a version."""
    row = service.get_entry(session, MODEL, name)
    service.move_alias(session, principal, row, alias, body.version, audit.AuditContext.of(request))
    return service.read_entry(session, row)
