"""The hash chain: how an entry is hashed, and walking a tenant's chain to verify it.

Each tenant has one chain. An entry's `hash` is sha256 of the previous entry's
hash followed by the canonical JSON of the entry (sorted keys, no spaces), so
changing, removing or reordering any entry breaks every later link. The chain's
head (`audit_heads`) records the last link and, after retention, the anchor the
remaining entries start from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from auterity.models.audit import AuditEntry, AuditHead
from auterity.security.clock import as_utc

GENESIS = "0" * 64


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    broken_entry_id: str | None = None
    broken_seq: int | None = None
    reason: str | None = None
    last_seq: int = 0
    last_hash: str = GENESIS


def document(entry: AuditEntry) -> dict[str, Any]:
    """The entry as hashed and exported (without its own hash)."""
    return _document(_row(entry))


_DOCUMENT_COLUMNS = (
    "id", "tenant_id", "seq", "occurred_at", "actor_type", "actor_id", "actor_name", "action",
    "targets", "context", "outcome", "details", "prev_hash",
)  # fmt: skip


def _document(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "tenant_id": row["tenant_id"],
        "seq": row["seq"],
        "occurred_at": as_utc(row["occurred_at"]).isoformat(timespec="microseconds"),
        "actor": {"type": row["actor_type"], "id": row["actor_id"], "name": row["actor_name"]},
        "action": row["action"],
        "targets": row["targets"],
        "context": row["context"],
        "outcome": row["outcome"],
        "details": row["details"],
        "prev_hash": row["prev_hash"],
    }


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(entry: AuditEntry) -> str:
    return row_hash(_row(entry))


def _row(entry: AuditEntry) -> dict[str, Any]:
    return {column: getattr(entry, column) for column in _DOCUMENT_COLUMNS}


def row_hash(row: Mapping[str, Any]) -> str:
    return hashlib.sha256((row["prev_hash"] + canonical_json(_document(row))).encode()).hexdigest()


def head(session: Session) -> AuditHead | None:
    return session.scalars(select(AuditHead)).one_or_none()


def verify(session: Session) -> Verification:
    """Walk the session tenant's chain from its anchor; report the first broken entry."""
    chain_head = head(session)
    previous = chain_head.anchor_hash if chain_head else GENESIS
    expected = (chain_head.anchor_seq if chain_head else 0) + 1
    count = 0
    for entry in entries(session):
        problem = None
        if entry.seq != expected:
            problem = f"sequence gap: expected {expected}, found {entry.seq}"
        elif entry.prev_hash != previous:
            problem = "prev_hash does not match the hash of the entry before it"
        elif entry_hash(entry) != entry.hash:
            problem = "content does not match its hash"
        if problem:
            return Verification(
                ok=False,
                entries=count,
                broken_entry_id=entry.id,
                broken_seq=entry.seq,
                reason=problem,
            )
        previous, expected, count = entry.hash, expected + 1, count + 1
    if chain_head is not None and (
        chain_head.last_seq != expected - 1 or chain_head.last_hash != previous
    ):
        return Verification(
            ok=False,
            entries=count,
            reason=(
                f"the chain ends at seq {expected - 1} "
                f"but its head records seq {chain_head.last_seq}"
            ),
        )
    return Verification(ok=True, entries=count, last_seq=expected - 1, last_hash=previous)


def entries(
    session: Session, *, since: datetime | None = None, until: datetime | None = None
) -> Iterator[AuditEntry]:
    """The session tenant's entries in chain order, read in batches."""
    statement = select(AuditEntry).order_by(AuditEntry.seq)
    if since is not None:
        statement = statement.where(AuditEntry.occurred_at >= since)
    if until is not None:
        statement = statement.where(AuditEntry.occurred_at < until)
    last = 0
    while True:
        batch = session.scalars(statement.where(AuditEntry.seq > last).limit(500)).all()
        yield from batch
        if len(batch) < 500:
            return
        last = batch[-1].seq
