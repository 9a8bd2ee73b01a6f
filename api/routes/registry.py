"""The registry (`registry:manage`): prompts and models with immutable versions and
movable aliases; llm nodes name them as `prompt_ref` / `model_ref`:
`"<name>@<alias or version>"`. Both kinds have the same five routes, declared once by
`_entry_routes`; prompts also have `compare`."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations, and
# `_entry_routes` gives them its arguments' types.

from typing import Any

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
PROMPT = RegistryKind.PROMPT


def _entry_routes(kind: RegistryKind, create_body: Any, version_body: Any) -> None:
    """List, create, read, add a version, move an alias: `/<kind>s` and `/<kind>s/{name}`."""
    plural = f"{kind}s"

    def list_entries(principal: RegistryManager, session: SessionDep) -> RegistryEntryList:
        return RegistryEntryList(items=service.list_entries(session, kind))

    def create_entry(
        body: create_body, principal: RegistryManager, session: SessionDep, request: Request
    ) -> RegistryEntryRead:
        spec = body.spec.model_dump(mode="json", exclude_none=True)
        row = service.create_entry(
            session, principal, kind, body.name, spec, audit.AuditContext.of(request)
        )
        return service.read_entry(session, row)

    def read_entry(name: str, principal: RegistryManager, session: SessionDep) -> RegistryEntryRead:
        return service.read_entry(session, service.get_entry(session, kind, name))

    def create_version(
        name: str,
        body: version_body,
        principal: RegistryManager,
        session: SessionDep,
        request: Request,
    ) -> RegistryEntryRead:
        row = service.get_entry(session, kind, name)
        spec = body.spec.model_dump(mode="json", exclude_none=True)
        service.add_version(session, principal, row, spec, audit.AuditContext.of(request))
        return service.read_entry(session, row)

    def put_alias(
        name: str,
        alias: str,
        body: AliasUpdate,
        principal: RegistryManager,
        session: SessionDep,
        request: Request,
    ) -> RegistryEntryRead:
        row = service.get_entry(session, kind, name)
        service.move_alias(
            session, principal, row, alias, body.version, audit.AuditContext.of(request)
        )
        return service.read_entry(session, row)

    for path, method, endpoint, name, status, doc in (
        ("", "GET", list_entries, f"list_{plural}", 200,
         f"The tenant's {plural} with their versions and aliases."),
        ("", "POST", create_entry, f"create_{kind}", 201,
         f"A new {kind} with version 1; 409 if the name is taken."),
        ("/{name}", "GET", read_entry, f"read_{kind}", 200,
         f"One {kind}: every version and where each alias points."),
        ("/{name}/versions", "POST", create_version, f"create_{kind}_version", 201,
         "Append an immutable version; aliases do not move."),
        ("/{name}/aliases/{alias}", "PUT", put_alias, f"put_{kind}_alias", 200,
         "Point an alias at a version; runs already started keep the version they pinned."),
    ):  # fmt: skip
        router.add_api_route(
            f"/{plural}{path}", endpoint, methods=[method], name=name, status_code=status,
            description=doc,
        )  # fmt: skip


_entry_routes(RegistryKind.PROMPT, PromptCreate, PromptVersionCreate)
_entry_routes(RegistryKind.MODEL, ModelCreate, ModelVersionCreate)


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
        llm_task_queue=state.settings.llm_task_queue,
    )  # fmt: skip
    return PromptComparison(graph_id=graph_id, execution_id=started.id, versions=versions)
