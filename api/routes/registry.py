"""The registry (`registry:manage`): prompts and models with immutable versions and
movable aliases; llm nodes name prompts as `prompt_ref: "<name>@<alias or version>"`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from api.auth import RegistryManager
from api.deps import SessionDep, TemporalDep, state_of
from api.problems import Forbidden
from api.schemas.executions import ExecutionStart
from api.schemas.registry import (
    AliasUpdate,
    ModelCreate,
    ModelVersionCreate,
    PromptCompare,
    PromptComparison,
    PromptCreate,
    PromptVersionCreate,
    RegistryEntryList,
    RegistryEntryRead,
)
from api.services import executions, graphs
from api.services import registry as service
from auterity import audit
from auterity.gateway.registry import RegistryKind
from auterity.security.permissions import Permission

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


@router.post("/prompts/{name}/compare", status_code=201)
async def compare_prompt_versions(
    name: str,
    body: PromptCompare,
    principal: RegistryManager,
    session: SessionDep,
    client: TemporalDep,
    request: Request,
) -> PromptComparison:
    """Run two versions of the prompt on the same cases as one graph (saved, so it opens on
    the canvas), before an alias moves; the `results` node's output has them side by side.
    Needs `graphs:write` and `executions:start` too."""
    for needed in (Permission.GRAPHS_WRITE, Permission.EXECUTIONS_START):
        if not principal.can(needed):
            raise Forbidden(f"comparing runs a graph: it needs {needed}")
    state, context = state_of(request), audit.AuditContext.of(request)

    def save() -> tuple[str, list[int]]:
        service.get_entry(session, PROMPT, name)
        service.check_case_keys(body.cases)
        versions = service.resolve_versions(session, name, body.versions)
        definition = service.comparison_graph(name, versions, body.cases, body.route)
        saved = graphs.create_graph(session, state.settings, principal, definition, context)
        return saved.graph.id, versions

    graph_id, versions = await run_in_threadpool(save)
    started = await executions.start(
        session, client, state.audit_writer, state.settings.task_queue, principal, graph_id,
        ExecutionStart(inputs={"cases": body.cases}), idempotency_key=None, context=context,
        blob_threshold_bytes=state.settings.blob_threshold_bytes,
    )  # fmt: skip
    return PromptComparison(graph_id=graph_id, execution_id=started.id, versions=versions)


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
