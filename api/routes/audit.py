"""The tenant's audit trail: browse, export as JSON Lines, verify the hash chain."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel
from sqlalchemy import select

from api.auth import AuditReader
from api.deps import SessionDep, StateDep
from api.problems import Unprocessable
from auterity import audit
from auterity.db import transaction
from auterity.models.audit import AuditEntry

router = APIRouter(prefix="/v1/audit", tags=["audit"])


class ActorRead(BaseModel):
    type: str
    id: str | None
    name: str | None


class AuditEntryRead(BaseModel):
    id: str
    seq: int
    occurred_at: datetime
    actor: ActorRead
    action: str
    targets: list[dict[str, Any]]
    context: dict[str, Any]
    outcome: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    items: list[AuditEntryRead]
    next_cursor: str | None


class VerificationRead(BaseModel):
    ok: bool
    entries: int
    broken_entry_id: str | None = None
    broken_seq: int | None = None
    reason: str | None = None
    last_seq: int | None = None
    last_hash: str | None = None


def _read(entry: AuditEntry) -> AuditEntryRead:
    document = audit.document(entry)
    return AuditEntryRead(**{**document, "hash": entry.hash})


def _cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def _seq_of(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        if kind != "seq":
            raise ValueError(kind)
        return int(value)
    except ValueError:
        raise Unprocessable(
            "cursor: not a cursor this endpoint returned",
            errors=[{"loc": ["query", "cursor"], "msg": "invalid cursor"}],
        ) from None


@router.get("")
def list_audit_entries(
    principal: AuditReader,
    session: SessionDep,
    action: Annotated[str | None, Query(description="exact, or a prefix ending in '*'")] = None,
    actor_id: str | None = None,
    target_id: str | None = None,
    outcome: Literal["success", "failure", "denied"] | None = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> AuditPage:
    """Entries newest first, filtered; follow `next_cursor` for older ones."""
    statement = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit + 1)
    if action:
        statement = statement.where(
            AuditEntry.action.startswith(action[:-1], autoescape=True)
            if action.endswith("*")
            else AuditEntry.action == action
        )
    if actor_id:
        statement = statement.where(AuditEntry.actor_id == actor_id)
    if target_id:
        statement = statement.where(AuditEntry.target_id == target_id)
    if outcome:
        statement = statement.where(AuditEntry.outcome == outcome)
    if since:
        statement = statement.where(AuditEntry.occurred_at >= since)
    if until:
        statement = statement.where(AuditEntry.occurred_at < until)
    if cursor:
        statement = statement.where(AuditEntry.seq < _seq_of(cursor))
    rows = session.scalars(statement).all()
    page = rows[:limit]
    more = len(rows) > limit
    return AuditPage(
        items=[_read(entry) for entry in page],
        next_cursor=_cursor(page[-1].seq) if more and page else None,
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
    audit.record(
        session,
        principal,
        "audit.exported",
        details={"since": since, "until": until},
        request=request,
    )
    session.commit()  # the export is on the record before a byte of it leaves

    def lines() -> Iterator[bytes]:
        with transaction(state.sessions, principal.tenant_id) as reader:
            for entry in audit.entries(reader, since=since, until=until):
                body = {**audit.document(entry), "hash": entry.hash}
                yield (json.dumps(body, sort_keys=True, ensure_ascii=False) + "\n").encode()

    filename = f"audit-{principal.tenant_slug}.jsonl"
    return StreamingResponse(
        lines(),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.post("/verify")
def verify_audit_chain(principal: AuditReader, session: SessionDep) -> VerificationRead:
    """Recompute the tenant's hash chain: ok, or the first entry that does not verify."""
    result = audit.verify(session)
    return VerificationRead(
        ok=result.ok,
        entries=result.entries,
        broken_entry_id=result.broken_entry_id,
        broken_seq=result.broken_seq,
        reason=result.reason,
        last_seq=result.last_seq if result.ok else None,
        last_hash=result.last_hash if result.ok else None,
    )
