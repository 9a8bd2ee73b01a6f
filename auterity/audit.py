"""The audit trail: append, redact, hash-chain, verify, and retention that keeps it verifiable.

Each tenant has one chain. An entry's `hash` is sha256 of the previous entry's
hash followed by the canonical JSON of the entry (sorted keys, no spaces), so
changing, removing or reordering any entry breaks every later link. The chain's
head (`audit_heads`) is updated in the same statement that hands out the next
sequence number, which serializes appends per tenant.

`record` is what every mutating endpoint calls, in the transaction of its change.
Before anything is stored, values under sensitive keys (passwords, tokens, …) and
every stored secret value of the tenant are replaced by `[REDACTED]`.

Retention deletes the oldest entries past a tenant's `audit_retention_days`
(tenant settings) and keeps the hash of the last deleted entry as the chain's
anchor, so what remains still verifies from the anchor on.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from auterity import secrets as secret_store
from auterity.models.audit import AuditEntry, AuditHead
from auterity.models.base import new_id, utcnow
from auterity.models.tenancy import Tenant
from auterity.security.clock import as_utc
from auterity.security.principal import Actor, Principal
from auterity.security.scoping import current_tenant

GENESIS = "0" * 64
REDACTED = "[REDACTED]"
RETENTION_SETTING = "audit_retention_days"
DEFAULT_RETENTION_DAYS = 365
# Secret values shorter than this are redacted only where a whole string equals them;
# masking every occurrence of a two-letter value would garble the entry.
MIN_SUBSTRING_REDACTION = 4

Outcome = Literal["success", "failure", "denied"]

_SENSITIVE_SUFFIX = re.compile(
    r"(?:^|[_\-\s.])(?:password|passwd|passphrase|secret|token|api[_-]?key|apikey|authorization|"
    r"cookie|credentials?|private[_-]?key|signature)$",
    re.IGNORECASE,
)
_HARMLESS_SUFFIXES = ("_name", "_names", "_id", "_ids", "_count")


@dataclass(frozen=True)
class AuditContext:
    """Where a request came from."""

    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None

    @classmethod
    def of(cls, request: Any) -> AuditContext:
        """The context of a Starlette request (or anything with `headers` and `client`)."""
        if request is None:
            return cls()
        if isinstance(request, AuditContext):
            return request
        headers = getattr(request, "headers", None) or {}
        client = getattr(request, "client", None)
        state = getattr(request, "state", None)
        request_id = getattr(state, "request_id", None) or headers.get("x-request-id")
        user_agent = headers.get("user-agent")
        return cls(
            ip=getattr(client, "host", None),
            user_agent=user_agent[:500] if user_agent else None,
            request_id=request_id[:100] if request_id else None,
        )

    def as_dict(self) -> dict[str, str | None]:
        return {"ip": self.ip, "user_agent": self.user_agent, "request_id": self.request_id}


@dataclass(frozen=True)
class Target:
    """What an entry is about: a user, a role, an API key, a secret, a graph…"""

    type: str
    id: str
    name: str | None = None

    def as_dict(self) -> dict[str, str]:
        body = {"type": self.type, "id": self.id}
        if self.name is not None:
            body["name"] = self.name
        return body


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    broken_entry_id: str | None = None
    broken_seq: int | None = None
    reason: str | None = None
    last_seq: int = 0
    last_hash: str = GENESIS


def record(
    session: Session,
    actor: Principal | Actor,
    action: str,
    *,
    targets: Sequence[Target] = (),
    details: Mapping[str, Any] | None = None,
    request: Any = None,
    outcome: Outcome = "success",
) -> AuditEntry:
    """Append one entry to the session tenant's chain, in the session's transaction."""
    tenant_id = current_tenant(session)
    if tenant_id is None:
        raise RuntimeError("audit.record needs a tenant-scoped session")
    who = actor.actor if isinstance(actor, Principal) else actor
    needles = _needles(secret_store.stored_values(session))
    context = _redact(AuditContext.of(request).as_dict(), needles)
    entry = AuditEntry(
        id=new_id(),
        tenant_id=tenant_id,
        occurred_at=utcnow(),
        actor_type=who.type,
        actor_id=who.id,
        actor_name=_redact(who.name, needles) if who.name else who.name,
        action=action,
        target_type=targets[0].type if targets else None,
        target_id=targets[0].id if targets else None,
        targets=_redact(_plain([target.as_dict() for target in targets]), needles),
        context=context,
        outcome=outcome,
        details=_redact(_plain(dict(details or {})), needles),
    )
    entry.seq, entry.prev_hash = _next_link(session, tenant_id)
    entry.hash = entry_hash(entry)
    session.add(entry)
    session.execute(
        update(AuditHead)
        .where(AuditHead.tenant_id == tenant_id)
        .values(last_hash=entry.hash, updated_at=entry.occurred_at)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return entry


def document(entry: AuditEntry) -> dict[str, Any]:
    """The entry as hashed and exported (without its own hash)."""
    return {
        "id": entry.id,
        "tenant_id": entry.tenant_id,
        "seq": entry.seq,
        "occurred_at": as_utc(entry.occurred_at).isoformat(timespec="microseconds"),
        "actor": {"type": entry.actor_type, "id": entry.actor_id, "name": entry.actor_name},
        "action": entry.action,
        "targets": entry.targets,
        "context": entry.context,
        "outcome": entry.outcome,
        "details": entry.details,
        "prev_hash": entry.prev_hash,
    }


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(entry: AuditEntry) -> str:
    return hashlib.sha256((entry.prev_hash + canonical_json(document(entry))).encode()).hexdigest()


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


def retention_days(tenant: Tenant) -> int | None:
    """The tenant's retention in days; None (or 0) keeps everything."""
    value = (tenant.settings or {}).get(RETENTION_SETTING, DEFAULT_RETENTION_DAYS)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(
            f"tenant {tenant.slug}: settings.{RETENTION_SETTING} must be a whole number of days "
            f"(0 keeps everything), not {value!r}"
        )
    return value or None


def purge_expired(session: Session, tenant: Tenant, now: datetime) -> int:
    """Delete the tenant's entries older than its retention; the chain keeps verifying.

    Only the longest prefix of expired entries goes, and only once it verifies:
    retention never erases the evidence of tampering. The hash of the last
    deleted entry becomes the chain's anchor.
    """
    days = retention_days(tenant)
    chain_head = head(session)
    if not days or chain_head is None:
        return 0
    cutoff = now - timedelta(days=days)
    first_kept = session.scalar(
        select(func.min(AuditEntry.seq)).where(AuditEntry.occurred_at >= cutoff)
    )
    cut = (first_kept - 1) if first_kept is not None else chain_head.last_seq
    if cut <= chain_head.anchor_seq:
        return 0
    check = verify(session)
    if check.broken_seq is not None and check.broken_seq <= cut:
        raise ChainBroken(check)
    anchor = session.scalars(select(AuditEntry).where(AuditEntry.seq == cut)).one()
    deleted = session.execute(
        delete(AuditEntry).where(AuditEntry.seq <= cut).execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    chain_head.anchor_seq, chain_head.anchor_hash = cut, anchor.hash
    session.flush()
    return int(deleted)


class ChainBroken(RuntimeError):
    """Retention refused to delete entries from a chain that does not verify."""

    def __init__(self, verification: Verification) -> None:
        super().__init__(
            f"audit chain broken at entry {verification.broken_entry_id}: {verification.reason}"
        )
        self.verification = verification


def redact(value: Any, secret_values: Iterable[str] = ()) -> Any:
    """`value` with sensitive keys and every occurrence of the given secret values masked."""
    return _redact(value, _needles(secret_values))


def _next_link(session: Session, tenant_id: str) -> tuple[int, str]:
    """Claim the next sequence number; the row lock (or SQLite's write lock) serializes appends."""
    for _ in range(2):
        claimed = session.execute(
            update(AuditHead)
            .where(AuditHead.tenant_id == tenant_id)
            .values(last_seq=AuditHead.last_seq + 1)
            .returning(AuditHead.last_seq, AuditHead.last_hash)
            .execution_options(synchronize_session=False)
        ).one_or_none()
        if claimed is not None:
            return int(claimed[0]), str(claimed[1])
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        session.execute(
            dialect.insert(AuditHead)
            .values(
                tenant_id=tenant_id,
                last_seq=0,
                last_hash=GENESIS,
                anchor_seq=0,
                anchor_hash=GENESIS,
                updated_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["tenant_id"])
        )
    raise RuntimeError("the audit chain head could not be claimed")


def _plain(value: Any) -> Any:
    """`value` as the JSON the database will hand back (tuples become lists, dates strings)."""
    return json.loads(json.dumps(value, default=str))


def _needles(values: Iterable[str]) -> tuple[list[str], set[str]]:
    unique = {value for value in values if value}
    long = sorted((v for v in unique if len(v) >= MIN_SUBSTRING_REDACTION), key=len, reverse=True)
    return long, unique


def _redact(value: Any, needles: tuple[list[str], set[str]]) -> Any:
    long, exact = needles
    if isinstance(value, str):
        if value in exact:
            return REDACTED
        for needle in long:
            value = value.replace(needle, REDACTED)
        return value
    if isinstance(value, dict):
        return {
            key: REDACTED if _sensitive(key) and item not in (None, "") else _redact(item, needles)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact(item, needles) for item in value]
    return value


def _sensitive(key: object) -> bool:
    """Whether a details key names a credential (`password`, `X-Api-Key`, `client_secret`…)."""
    if not isinstance(key, str):
        return False
    lowered = key.lower()
    if _SENSITIVE_SUFFIX.search(lowered):
        return True
    return ("secret" in lowered or "password" in lowered) and not lowered.endswith(
        _HARMLESS_SUFFIXES
    )
