"""Writing entries: what an entry says, redacted, and linking entries onto a tenant's chain.

`record` is what every mutating endpoint calls, in the transaction of its change.
Before anything is stored, values under keys that name a credential and every
stored secret value of the tenant are masked (`auterity.redaction`). Appending
claims the next sequence numbers in the same statement that moves the chain's
head, which serializes appends per tenant. A writer that remembers where it left
a chain's head links onto it without asking (`append_after`): the statement that
writes the entries moves the head only if it is still there.
"""

from __future__ import annotations

import contextlib
import functools
import json
import select
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypedDict, Unpack

import psycopg
from psycopg import pq
from psycopg.types.json import Json
from sqlalchemy import Table, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from auterity import cache
from auterity import secrets as secret_store
from auterity.audit.chain import GENESIS, chain_keys, row_hash
from auterity.models.audit import AuditEntry, AuditHead
from auterity.models.base import new_id, utcnow
from auterity.redaction import SecretValues, redact
from auterity.security.principal import Actor, Principal
from auterity.security.scoping import SET_CONFIG, TENANT_SETTING, current_tenant


class Outcome(StrEnum):
    """How the action an entry records ended."""

    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


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
    outcome: Outcome = Outcome.SUCCESS,
) -> dict[str, Any]:
    """A new entry of the session tenant, redacted, not yet linked into the chain."""
    tenant_id = current_tenant(session)
    if tenant_id is None:
        raise RuntimeError("an audit entry needs a tenant-scoped session")
    who = actor.actor if isinstance(actor, Principal) else actor
    secrets = cache.cached(
        session, tenant_id, "secret-values",
        lambda: SecretValues(secret_store.stored_values(session)),
    )  # fmt: skip
    return {
        "id": new_id(),
        "tenant_id": tenant_id,
        "occurred_at": utcnow(),
        "actor_type": who.type,
        "actor_id": who.id,
        "actor_name": redact(who.name, secrets) if who.name else who.name,
        "action": action,
        "target_type": targets[0].type if targets else None,
        "target_id": targets[0].id if targets else None,
        "targets": redact(_plain([target.as_dict() for target in targets]), secrets),
        "context": redact(AuditContext.of(request).as_dict(), secrets),
        "outcome": Outcome(outcome).value,
        "details": redact(_plain(dict(details or {})), secrets),
        "key_id": chain_keys().current_id,
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


def append_after(
    connection: Connection,
    batches: Mapping[str, tuple[Sequence[dict[str, Any]], tuple[int, str]]],
    prepared: set[bytes],
) -> set[str]:
    """Link each tenant's rows after its head as this process last left it (last seq and
    hash) and commit them, each tenant's in one statement that also moves its head if the
    head is still there: one transaction, one round trip, no claim. PostgreSQL only.

    Returns the tenants whose head another writer had moved: nothing of theirs was
    written; `append` them. The statements go to libpq's pipeline directly, without
    psycopg's per-statement machinery: this is the path of every audited run start.

    Its statements are prepared on the connection once, their names kept in `prepared`,
    for as long as the caller holds the connection: `unprepare` before giving it back (a
    pooled connection's psycopg may DEALLOCATE ALL). If the round trip fails, the
    connection is invalidated: statements it prepared go with it.

    No BEGIN or COMMIT: the statements of a pipeline up to its one Sync are one implicit
    transaction, committed at the Sync, or rolled back whole at the first error."""
    driver = _pipelining(connection)
    if driver is None:
        raise RuntimeError("append_after needs PostgreSQL")
    pipeline = _Pipeline(prepared)
    inserts = []
    try:
        with _as_sqlalchemy_errors():
            for tenant_id, (rows, (last, previous)) in batches.items():
                _link(rows, last + len(rows), previous)
                pipeline.add(
                    _PG_SET_TENANT,
                    [_text(TENANT_SETTING), _text(tenant_id)],
                    name=b"auterity_tenant",
                )
                moved = (
                    rows[-1]["seq"],
                    rows[-1]["hash"],
                    rows[-1]["occurred_at"],
                    tenant_id,
                    last,
                    previous,
                )
                inserts.append(
                    pipeline.add(
                        _pg_append_after(len(rows)),
                        [
                            *map(_text, moved),
                            *(_pg_text(column, row) for row in rows for column in _COLUMNS),
                        ],
                        name=b"auterity_append_%d" % len(rows),
                    )
                )
            results = pipeline.run(driver.pgconn)
    except BaseException:
        # A statement prepared in a failed round trip exists, unrecorded in `prepared`:
        # so that it is never prepared twice, the connection goes, its statements with it.
        with contextlib.suppress(Exception):
            connection.invalidate()
        raise
    return {
        tenant_id
        for (tenant_id, (rows, _head)), index in zip(batches.items(), inserts, strict=True)
        if int(results[index].command_tuples or 0) != len(rows)
    }


def unprepare(connection: Connection, prepared: set[bytes]) -> None:
    """Deallocate the statements `append_after` prepared on `connection`, before it goes
    back to the pool."""
    driver = _pipelining(connection)
    if driver is None or not prepared:
        return
    pipeline = _Pipeline(set())
    for name in sorted(prepared):  # our own fixed names: nothing to quote
        pipeline.add(b"DEALLOCATE " + name)
    with _as_sqlalchemy_errors():
        pipeline.run(driver.pgconn)
    prepared.clear()


class _Pipeline:
    """Statements (text parameters) sent in one libpq pipeline, their results awaited off
    the GIL: one round trip, none of psycopg's per-statement machinery."""

    def __init__(self, prepared: set[bytes]) -> None:
        self._prepared = prepared  # names already prepared on the connection
        self._steps: list[tuple[bytes, bytes | None, Sequence[bytes | None] | None]] = []
        self._preparing: list[bytes] = []

    def add(
        self,
        query: bytes,
        params: Sequence[bytes | None] | None = None,
        *,
        name: bytes | None = None,
    ) -> int:
        """Queue `query`, as the statement `name` if given (prepared first if it is new);
        the index of its result."""
        if name is not None and name not in self._prepared and name not in self._preparing:
            self._steps.append((query, name, None))  # the PREPARE: a result of its own
            self._preparing.append(name)
        self._steps.append((b"" if name is not None else query, name, params))
        return len(self._steps) - 1

    def run(self, pgconn: pq.abc.PGconn) -> list[pq.abc.PGresult]:
        """Send everything, wait for every result; the first error is raised as psycopg
        raises it, once all have arrived (the server skips what follows an error)."""
        pgconn.enter_pipeline_mode()
        try:
            results = self._exchange(pgconn)
        except BaseException:
            with contextlib.suppress(Exception):  # the first error is the one to raise
                pgconn.exit_pipeline_mode()
            raise
        pgconn.exit_pipeline_mode()
        for result in results:
            if result.status == pq.ExecStatus.FATAL_ERROR:
                raise _error(result)
        self._prepared.update(self._preparing)
        return results

    def _exchange(self, pgconn: pq.abc.PGconn) -> list[pq.abc.PGresult]:
        for query, name, params in self._steps:
            if name is None:
                pgconn.send_query_params(query, params)
            elif query:
                pgconn.send_prepare(name, query)
            else:
                pgconn.send_query_prepared(name, params)
        pgconn.pipeline_sync()
        socket = select.poll()  # poll, not select: any descriptor number
        socket.register(pgconn.socket, select.POLLOUT)
        while pgconn.flush():
            socket.poll()
        socket.modify(pgconn.socket, select.POLLIN)
        results: list[pq.abc.PGresult] = []
        while True:
            while pgconn.is_busy():
                socket.poll()
                pgconn.consume_input()
            result = pgconn.get_result()
            if result is None:  # the end of one statement's results
                continue
            if result.status == pq.ExecStatus.PIPELINE_SYNC:
                return results
            results.append(result)


def _error(result: pq.abc.PGresult) -> psycopg.Error:
    sqlstate = (result.error_field(pq.DiagnosticField.SQLSTATE) or b"").decode()
    try:
        kind: type[psycopg.Error] = psycopg.errors.lookup(sqlstate)
    except KeyError:
        kind = psycopg.DatabaseError
    return kind(result.get_error_message().strip())


def _text(value: Any) -> bytes | None:
    """A parameter in PostgreSQL's text format. libpq reads text parameters up to their
    first NUL, so a value holding one is refused, as psycopg refuses it."""
    if value is None:
        return None
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    if "\x00" in text:
        raise psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
    return text.encode()


def _pg_text(column: str, row: dict[str, Any]) -> bytes | None:
    return json.dumps(row[column]).encode() if column in _JSON_COLUMNS else _text(row[column])


@contextlib.contextmanager
def appending(connection: Connection) -> Iterator[None]:
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
        row["hash"] = previous = row_hash(row)


def _move(tenant_id: str, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"tenant": tenant_id, "hash": rows[-1]["hash"], "at": rows[-1]["occurred_at"]}


def _plain(value: Any) -> Any:
    """`value` as the JSON the database will hand back (tuples become lists, dates strings)."""
    return json.loads(json.dumps(value, default=str))


def _pg_row(row: dict[str, Any]) -> dict[str, Any]:
    return {key: Json(row[key]) if key in _JSON_COLUMNS else row[key] for key in row}


_ENTRIES: Table = AuditEntry.__table__  # type: ignore[assignment]
_HEADS: Table = AuditHead.__table__  # type: ignore[assignment]


def _claim_links_statement(dialect: Any) -> Any:
    """Claim the next `count` sequence numbers of the tenant's chain: the last one, and the
    hash they follow. Creates the head on a chain's first append; its row lock (or
    SQLite's write lock) serializes appends."""
    insert = dialect.insert(_HEADS).values(
        tenant_id=bindparam("tenant"), last_seq=bindparam("count"), last_hash=GENESIS,
        anchor_seq=0, anchor_hash=GENESIS, keyed_from_seq=1, updated_at=bindparam("at"),
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
_COLUMNS = tuple(column.name for column in _ENTRIES.c)
_PG_SET_TENANT = SET_CONFIG.replace("%s", "$1", 1).replace("%s", "$2", 1).encode()


@functools.lru_cache(maxsize=256)
def _pg_append_after(count: int) -> bytes:
    """Moves the head from where the writer left it and inserts `count` entries only if it
    moved: 0 rows inserted when another writer got there first. Parameters: the new head's
    seq, hash and time, the tenant, the head expected (seq, hash), then each entry's
    columns in table order. Each is cast to its column's type without a length: a cast to
    VARCHAR(n) would cut a longer value silently (and break its hash); the insert refuses
    it."""
    types = [
        column.type.compile(dialect=postgresql.dialect()).split("(")[0] for column in _ENTRIES.c
    ]
    entries = ", ".join(
        "("
        + ", ".join(
            f"${7 + index * len(types) + offset}::{kind}" for offset, kind in enumerate(types)
        )
        + ")"
        for index in range(count)
    )
    return (
        "WITH moved AS (UPDATE audit_heads SET last_seq = $1::bigint, last_hash = $2::varchar, "
        "updated_at = $3::timestamptz WHERE tenant_id = $4::varchar AND last_seq = $5::bigint "
        "AND last_hash = $6::varchar RETURNING tenant_id) "
        f"INSERT INTO audit_entries ({', '.join(_COLUMNS)}) SELECT entry.* FROM moved, "
        f"(VALUES {entries}) AS entry({', '.join(_COLUMNS)})"
    ).encode()
