"""The hash chain: how an entry is hashed, and walking a tenant's chain to verify it.

Each tenant has one chain. An entry's `hash` is HMAC-SHA256, under a key derived
from AUTERITY_SECRET_KEY (`chain_keys`, its id stored on the entry as `key_id`), of
the previous entry's hash followed by the canonical JSON of the entry (sorted
keys, no spaces, `key_id` included), so changing, removing or reordering any
entry breaks every later link, and someone with database access alone cannot
recompute a link. Entries written before the chain was keyed (`key_id` None) are
plain sha256 and still verify; the head's `keyed_from_seq` (set by the migration
that introduced keys, not writable by the app's login) says where keyed entries
must start, so a rewrite cannot pass keyed entries off as old unkeyed ones. The
head (`audit_heads`) records the last link and, after retention, the anchor the
remaining entries start from.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from auterity.models.audit import AuditEntry, AuditHead
from auterity.security.clock import as_utc
from auterity.security.crypto import KeyRing
from auterity.settings import Settings

GENESIS = "0" * 64
CHAIN_PURPOSE = "audit-chain"
_configured: list[KeyRing] = []


def use_settings(settings: Settings) -> None:
    """Link and verify entries with the keys `settings` derive (what every process calls)."""
    use_keys(KeyRing.from_settings(settings, CHAIN_PURPOSE))


def use_keys(ring: KeyRing) -> None:
    """The keys this process links and verifies entries with (`KeyRing.from_settings(
    settings, CHAIN_PURPOSE)`); the API, the worker and the CLI call it at start."""
    _configured[:] = [ring]


def chain_keys() -> KeyRing:
    """The configured keys, else those of the process's settings."""
    return _configured[0] if _configured else _default_keys()


@functools.cache
def _default_keys() -> KeyRing:
    from auterity.settings import get_settings

    return KeyRing.from_settings(get_settings(), CHAIN_PURPOSE)


@dataclass(frozen=True)
class Checkpoint:
    """A head of the chain as exported earlier: the hash of the entry at `seq`."""

    seq: int
    hash: str


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
    "targets", "context", "outcome", "details", "prev_hash", "key_id",
)  # fmt: skip


def _document(row: Mapping[str, Any]) -> dict[str, Any]:
    keyed = {"key_id": row["key_id"]} if row.get("key_id") is not None else {}
    return keyed | {
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


def entry_hash(entry: AuditEntry, keys: KeyRing | None = None) -> str:
    return row_hash(_row(entry), keys)


def _row(entry: AuditEntry) -> dict[str, Any]:
    return {column: getattr(entry, column) for column in _DOCUMENT_COLUMNS}


def row_hash(row: Mapping[str, Any], keys: KeyRing | None = None) -> str:
    """The link's hash: HMAC-SHA256 under the key `row["key_id"]` names, or plain sha256
    for an entry written before the chain was keyed. KeyError: a key id the ring lacks."""
    message = (row["prev_hash"] + canonical_json(_document(row))).encode()
    if row.get("key_id") is None:
        return hashlib.sha256(message).hexdigest()
    key = (keys or chain_keys()).get(row["key_id"])
    if key is None:
        raise KeyError(row["key_id"])
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def head(session: Session) -> AuditHead | None:
    return session.scalars(select(AuditHead)).one_or_none()


def _link_problem(entry: AuditEntry, keys: KeyRing, keyed_from: int) -> str | None:
    if entry.key_id is None and entry.seq >= keyed_from:
        return f"entry is not keyed, but the chain is keyed from seq {keyed_from} on"
    try:
        if not hmac.compare_digest(entry_hash(entry, keys), entry.hash):
            return "content does not match its hash"
    except KeyError:
        return (
            f"entry is keyed with key id {entry.key_id}, which this server does not hold "
            "(is its secret key in AUTERITY_SECRET_KEYS_PREVIOUS?)"
        )
    return None


def verify(session: Session, checkpoints: Sequence[Checkpoint] = ()) -> Verification:
    """Walk the session tenant's chain from its anchor; report the first broken entry.

    Each checkpoint (a signed head exported earlier, already checked) must still be on the
    chain: the entry at its seq has its hash, and the chain has not been cut short of it.
    Memory stays bounded: entries are read in batches and nothing is kept."""
    keys = chain_keys()
    chain_head = head(session)
    previous = chain_head.anchor_hash if chain_head else GENESIS
    expected = (chain_head.anchor_seq if chain_head else 0) + 1
    keyed_from = chain_head.keyed_from_seq if chain_head else 1
    marks = {point.seq: point.hash for point in checkpoints}
    anchor = (chain_head.anchor_seq, chain_head.anchor_hash) if chain_head else (0, GENESIS)
    if marks.get(anchor[0], anchor[1]) != anchor[1]:
        return Verification(
            ok=False,
            entries=0,
            reason=f"the checkpoint at seq {anchor[0]} does not match the chain's anchor: "
            "the chain was rewritten",
        )
    count = 0
    for entry in entries(session):
        problem = None
        if entry.seq != expected:
            problem = f"sequence gap: expected {expected}, found {entry.seq}"
        elif entry.prev_hash != previous:
            problem = "prev_hash does not match the hash of the entry before it"
        else:
            problem = _link_problem(entry, keys, keyed_from)
        if problem is None and entry.seq in marks and marks[entry.seq] != entry.hash:
            problem = f"the checkpoint at seq {entry.seq} does not match: the chain was rewritten"
        if problem:
            return Verification(
                ok=False,
                entries=count,
                broken_entry_id=entry.id,
                broken_seq=entry.seq,
                reason=problem,
            )
        previous, expected, count = entry.hash, expected + 1, count + 1
    beyond = [seq for seq in marks if seq > expected - 1]
    if beyond:
        return Verification(
            ok=False,
            entries=count,
            reason=f"the chain ends at seq {expected - 1} but a checkpoint records seq "
            f"{max(beyond)}: entries were removed from its end",
        )
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
        for entry in batch:  # read-only: nothing of a batch stays in the session
            session.expunge(entry)
        if len(batch) < 500:
            return
        last = batch[-1].seq
