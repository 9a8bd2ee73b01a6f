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

import asyncio
import contextlib
import hashlib
import json
import queue
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TypedDict, Unpack

import psycopg
from psycopg.types.json import Json
from sqlalchemy import Table, bindparam, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from auterity import cache
from auterity import secrets as secret_store
from auterity.models.audit import AuditEntry, AuditHead
from auterity.models.base import new_id, utcnow
from auterity.models.tenancy import Tenant
from auterity.security.clock import as_utc
from auterity.security.principal import Actor, Principal
from auterity.security.scoping import SET_CONFIG, TENANT_SETTING, current_tenant

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


class EntryFields(TypedDict, total=False):
    """What an entry says besides its actor and action (see `entry`)."""

    targets: Sequence[Target]
    details: Mapping[str, Any] | None
    request: Any
    outcome: Outcome


def record(
    session: Session, actor: Principal | Actor, action: str, **fields: Unpack[EntryFields]
) -> str:
    """Append one entry to the session tenant's chain, in the session's transaction; its id."""
    row = entry(session, actor, action, **fields)
    append(session.connection(), row["tenant_id"], [row])
    return str(row["id"])


def entry(
    session: Session,
    actor: Principal | Actor,
    action: str,
    *,
    targets: Sequence[Target] = (),
    details: Mapping[str, Any] | None = None,
    request: Any = None,
    outcome: Outcome = "success",
) -> dict[str, Any]:
    """A new entry of the session tenant, redacted, not yet linked into the chain."""
    tenant_id = current_tenant(session)
    if tenant_id is None:
        raise RuntimeError("an audit entry needs a tenant-scoped session")
    who = actor.actor if isinstance(actor, Principal) else actor
    needles = cache.cached(
        session, tenant_id, "secret-needles",
        lambda: _needles(secret_store.stored_values(session)),
    )  # fmt: skip
    return {
        "id": new_id(),
        "tenant_id": tenant_id,
        "occurred_at": utcnow(),
        "actor_type": who.type,
        "actor_id": who.id,
        "actor_name": _redact(who.name, needles) if who.name else who.name,
        "action": action,
        "target_type": targets[0].type if targets else None,
        "target_id": targets[0].id if targets else None,
        "targets": _redact(_plain([target.as_dict() for target in targets]), needles),
        "context": _redact(AuditContext.of(request).as_dict(), needles),
        "outcome": outcome,
        "details": _redact(_plain(dict(details or {})), needles),
    }


def append(connection: Connection, tenant_id: str, rows: Sequence[dict[str, Any]]) -> None:
    """Link `rows` (entries of one tenant) onto its chain, in order, in the connection's
    transaction: three statements however many rows, without the ORM.

    On PostgreSQL they are pipelined: one round trip claims the links (and points the
    row-level security policies at the tenant), the next writes entries and head."""
    driver = _pipelining(connection)
    if driver is None:
        result = connection.execute(_CLAIM_LINKS[connection.dialect.name], _claim(tenant_id, rows))
        _link(rows, *result.one())
        connection.execute(_INSERT_ENTRY, list(rows))
        connection.execute(_MOVE_HEAD, _move(tenant_id, rows))
        return
    pipeline = contextlib.nullcontext() if driver.pgconn.pipeline_status else driver.pipeline()
    with _as_sqlalchemy_errors(), pipeline, driver.cursor() as cursor:
        cursor.execute(SET_CONFIG, (TENANT_SETTING, tenant_id))
        cursor.execute(_PG_CLAIM.string, _PG_CLAIM.construct_params(_claim(tenant_id, rows)))
        claimed = cursor.fetchone()
        if claimed is None:  # the upsert always returns its row
            raise RuntimeError("the audit chain head could not be claimed")
        _link(rows, *claimed)
        cursor.executemany(_PG_INSERT_ENTRY, [_pg_row(row) for row in rows])
        cursor.execute(_PG_MOVE_HEAD, _move(tenant_id, rows))


@contextlib.contextmanager
def _appending(connection: Connection) -> Iterator[None]:
    """A transaction for `append`s, committed on leaving: on PostgreSQL, in one pipeline
    whose last round trip carries the COMMIT."""
    driver = _pipelining(connection)
    if driver is None:
        with connection.begin():
            yield
        return
    try:
        with _as_sqlalchemy_errors(), driver.pipeline():
            yield
            driver.commit()
    except BaseException:
        with contextlib.suppress(Exception):
            driver.rollback()
        raise


@contextlib.contextmanager
def _as_sqlalchemy_errors() -> Iterator[None]:
    """Driver errors as SQLAlchemy raises them (IntegrityError, OperationalError…)."""
    try:
        yield
    except psycopg.Error as exc:
        raise DBAPIError.instance(None, None, exc, psycopg.Error) from exc


def _pipelining(connection: Connection) -> psycopg.Connection[Any] | None:
    """The psycopg connection under a PostgreSQL `connection`, else None."""
    if connection.dialect.name != "postgresql":
        return None
    return connection.connection.driver_connection


def _claim(tenant_id: str, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"tenant": tenant_id, "count": len(rows), "at": rows[-1]["occurred_at"]}


def _link(rows: Sequence[dict[str, Any]], last: int, previous: str) -> None:
    """Number and hash `rows` as the links after `previous`, the last being `last`."""
    for seq, row in enumerate(rows, start=int(last) - len(rows) + 1):
        row["seq"], row["prev_hash"] = seq, previous
        row["hash"] = previous = _hash(row)


def _move(tenant_id: str, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"tenant": tenant_id, "hash": rows[-1]["hash"], "at": rows[-1]["occurred_at"]}


def _pg_row(row: dict[str, Any]) -> dict[str, Any]:
    return {key: Json(row[key]) if key in _JSON_COLUMNS else row[key] for key in row}


def document(entry: AuditEntry) -> dict[str, Any]:
    """The entry as hashed and exported (without its own hash)."""
    return _document(_row(entry))


_ENTRIES: Table = AuditEntry.__table__  # type: ignore[assignment]
_HEADS: Table = AuditHead.__table__  # type: ignore[assignment]


def _claim_links_statement(dialect: Any) -> Any:
    """Claim the next `count` sequence numbers of the tenant's chain: the last one, and the
    hash they follow. Creates the head on a chain's first append; its row lock (or
    SQLite's write lock) serializes appends."""
    insert = dialect.insert(_HEADS).values(
        tenant_id=bindparam("tenant"), last_seq=bindparam("count"), last_hash=GENESIS,
        anchor_seq=0, anchor_hash=GENESIS, updated_at=bindparam("at"),
    )  # fmt: skip
    return insert.on_conflict_do_update(
        index_elements=[_HEADS.c.tenant_id],
        set_={"last_seq": _HEADS.c.last_seq + insert.excluded.last_seq},
    ).returning(_HEADS.c.last_seq, _HEADS.c.last_hash)


# Built once: statements made per call cost more to build and cache-key than to run.
_CLAIM_LINKS = {
    "postgresql": _claim_links_statement(postgresql),
    "sqlite": _claim_links_statement(sqlite),
}
_INSERT_ENTRY = _ENTRIES.insert()
_MOVE_HEAD = (
    _HEADS.update()
    .where(_HEADS.c.tenant_id == bindparam("tenant"))
    .values(last_hash=bindparam("hash"), updated_at=bindparam("at"))
)
_JSON_COLUMNS = frozenset(("targets", "context", "details"))


def _psycopg_sql(statement: Any) -> Any:
    return statement.compile(dialect=postgresql.psycopg.dialect())


# The same statements as psycopg SQL, for the pipelined append.
_PG_CLAIM = _psycopg_sql(_CLAIM_LINKS["postgresql"])
_PG_INSERT_ENTRY = _psycopg_sql(
    _INSERT_ENTRY.values({c.name: bindparam(c.name) for c in _ENTRIES.c})
).string
_PG_MOVE_HEAD = _psycopg_sql(_MOVE_HEAD).string
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
    return _hash(_row(entry))


def _row(entry: AuditEntry) -> dict[str, Any]:
    return {column: getattr(entry, column) for column in _DOCUMENT_COLUMNS}


def _hash(row: Mapping[str, Any]) -> str:
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


_WRITER_IDLE_SECONDS = 10.0


class Writer:
    """Appends entries whose action changed nothing in the database (a run started in
    Temporal, say), many requests' entries per transaction: group commit.

    `await writer.append(session, …)` returns once its entry is committed, so a caller
    that waits for it knows its action is on the record. Under load the entries that
    arrive while one transaction commits go into the next, one claim, insert and head
    update per tenant, so a request pays a fraction of the round trips and commits.
    """

    def __init__(self, engine: Engine, *, max_batch: int = 200) -> None:
        self._engine = engine
        self._connection: Connection | None = None  # the writer thread's own, kept between batches
        self._last_used = 0.0
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[dict[str, Any], Future[str]] | None] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.entries = 0  # written so far

    async def append(
        self, session: Session, actor: Principal | Actor, action: str, **fields: Unpack[EntryFields]
    ) -> str:
        """Append an entry of the session's tenant once it is committed; its id.

        The session's own transaction, if it has one, is committed first: on SQLite it
        holds the write lock the writer needs."""

        def build() -> dict[str, Any]:
            row = entry(session, actor, action, **fields)
            if session.in_transaction():
                cache.going_online(session)
                session.commit()
            return row

        row = await cache.from_cache(session, build)
        done: Future[str] = Future()
        self._start()
        self._queue.put((row, done))
        return await asyncio.wrap_future(done)

    def close(self) -> None:
        """Write what is queued, then stop."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=30)

    def _start(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="auterity-audit-writer", daemon=True
                    )
                    self._thread.start()

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()

    def _run(self) -> None:
        try:
            self._drain()
        finally:
            self._disconnect()

    def _drain(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._write(batch)

    def _write(self, batch: list[tuple[dict[str, Any], Future[str]]]) -> None:
        by_tenant: dict[str, list[dict[str, Any]]] = {}
        for row, _done in batch:
            by_tenant.setdefault(row["tenant_id"], []).append(row)
        try:
            if time.monotonic() - self._last_used > _WRITER_IDLE_SECONDS:
                self._disconnect()  # idle a while: check out afresh (the pool pings it)
            if self._connection is None:
                self._connection = self._engine.connect()
            self._last_used = time.monotonic()
            with _appending(self._connection):
                for tenant_id, rows in by_tenant.items():
                    append(self._connection, tenant_id, rows)
        except Exception as exc:  # noqa: BLE001 - every waiting caller gets the error
            self._disconnect()
            for _row, done in batch:
                done.set_exception(exc)
            return
        self.entries += len(batch)
        for row, done in batch:
            done.set_result(str(row["id"]))
