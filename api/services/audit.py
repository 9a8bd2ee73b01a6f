"""Reading the tenant's audit trail: filtered pages, a JSON Lines export, verification.

The trail itself (hash chain, appends, redaction, retention) is `auterity.audit`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.problems import Unprocessable
from api.schemas.audit import CheckpointRead
from auterity import audit, metrics
from auterity.audit import checkpoint as checkpoints
from auterity.db import transaction
from auterity.models.audit import AuditEntry
from auterity.security.principal import Principal
from auterity.settings import Settings


def published(entry: AuditEntry) -> dict[str, Any]:
    """An entry as the API lists and exports it: the hashed document and its hash."""
    return {**audit.document(entry), "hash": entry.hash}


def list_entries(
    session: Session,
    *,
    action: str | None,
    actor_id: str | None,
    target_id: str | None,
    outcome: audit.Outcome | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[AuditEntry], str | None]:
    """Entries newest first, filtered (`action` exact, or a prefix ending in '*'), and the
    cursor of the next page (None on the last)."""
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
    page = list(rows[:limit])
    more = len(rows) > limit
    return page, _cursor(page[-1].seq) if more and page else None


def export(
    session: Session,
    sessions: sessionmaker[Session],
    principal: Principal,
    *,
    since: datetime | None,
    until: datetime | None,
    context: audit.AuditContext,
) -> Iterator[bytes]:
    """Every entry in chain order as JSON Lines. The export itself is recorded and committed
    before this returns, so it is on the record before a byte of it leaves."""
    audit.record(
        session,
        principal,
        "audit.exported",
        details={"since": since, "until": until},
        request=context,
    )
    session.commit()

    def lines() -> Iterator[bytes]:
        with transaction(sessions, principal.tenant_id) as reader:
            for entry in audit.entries(reader, since=since, until=until):
                body = published(entry)
                yield (json.dumps(body, sort_keys=True, ensure_ascii=False) + "\n").encode()

    return lines()


def checkpoint(
    session: Session, settings: Settings, principal: Principal
) -> checkpoints.SignedCheckpoint:
    """A signed checkpoint of the tenant's chain head (seq 0 for an empty chain)."""
    head = audit.head(session)
    seq, last = (head.last_seq, head.last_hash) if head else (0, audit.GENESIS)
    return checkpoints.sign(
        checkpoints.keys(settings), principal.tenant_id, seq, last, datetime.now(UTC)
    )


def verify(
    session: Session,
    settings: Settings,
    principal: Principal,
    signed: Sequence[CheckpointRead],
) -> audit.Verification:
    """The chain verified, and against each checkpoint once its signature holds (else 422)."""
    ring = checkpoints.keys(settings)
    marks = []
    for index, point in enumerate(signed):
        try:
            marks.append(
                checkpoints.check(
                    ring, checkpoints.SignedCheckpoint(**point.model_dump()), principal.tenant_id
                )
            )
        except checkpoints.CheckpointRefused as refused:
            raise Unprocessable(
                f"checkpoints[{index}]: {refused}",
                errors=[{"loc": ["body", "checkpoints", index], "msg": str(refused)}],
            ) from None
    verification = audit.verify(session, marks)
    if not verification.ok:
        metrics.audit_verification_failed(principal.tenant_slug)
    return verification


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
