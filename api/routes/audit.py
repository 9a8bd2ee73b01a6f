"""The tenant's audit trail: browse, export as JSON Lines, verify the hash chain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime

from api.auth import AuditReader
from api.deps import SessionDep, SettingsDep, StateDep
from api.schemas.audit import (
    AuditEntryRead,
    AuditPage,
    AuditVerify,
    CheckpointRead,
    VerificationRead,
)
from api.services import audit as service
from auterity import audit
from auterity.audit import AuditContext

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("")
def list_audit_entries(
    principal: AuditReader,
    session: SessionDep,
    action: Annotated[str | None, Query(description="exact, or a prefix ending in '*'")] = None,
    actor_id: str | None = None,
    target_id: str | None = None,
    outcome: audit.Outcome | None = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> AuditPage:
    """Entries newest first, filtered; follow `next_cursor` for older ones."""
    entries, next_cursor = service.list_entries(
        session, action=action, actor_id=actor_id, target_id=target_id, outcome=outcome,
        since=since, until=until, limit=limit, cursor=cursor,
    )  # fmt: skip
    return AuditPage(
        items=[AuditEntryRead.model_validate(service.published(entry)) for entry in entries],
        next_cursor=next_cursor,
    )


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
def export_audit_entries(
    principal: AuditReader,
    session: SessionDep,
    state: StateDep,
    request: Request,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> StreamingResponse:
    """Every entry in chain order as JSON Lines, each with its hash, for outside verification."""
    lines = service.export(
        session, state.sessions, principal, since=since, until=until,
        context=AuditContext.of(request),
    )  # fmt: skip
    filename = f"audit-{principal.tenant_slug}.jsonl"
    return StreamingResponse(
        lines,
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/checkpoint")
def read_audit_checkpoint(
    principal: AuditReader, session: SessionDep, settings: SettingsDep
) -> CheckpointRead:
    """A signed checkpoint of the chain's head, to keep outside the database."""
    return CheckpointRead.model_validate(
        service.checkpoint(session, settings, principal), from_attributes=True
    )


@router.post("/verify")
def verify_audit_chain(
    principal: AuditReader,
    session: SessionDep,
    settings: SettingsDep,
    body: AuditVerify | None = None,
) -> VerificationRead:
    """Recompute the tenant's keyed hash chain, in bounded memory: ok, or the first entry
    that does not verify; with checkpoints, also that the chain still holds each of them
    (so a removed end or a rewritten chain is found)."""
    checkpoints = body.checkpoints if body else []
    verification = service.verify(session, settings, principal, checkpoints)
    return VerificationRead.model_validate(verification, from_attributes=True)
