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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypedDict, Unpack

import psycopg
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
    connection: Connection, tenant_id: str, rows: Sequence[dict[str, Any]], head: tuple[int, str]
) -> Callable[[], bool]:
    """Link `rows` after `head` (the last seq and hash of the tenant's chain, as this
    process left it) and write them in one statement that also moves the head, if the
    head is still there; PostgreSQL only, inside `appending`. No claim round trip.

    Returns a check to call once the transaction is committed: whether the rows were
    written. False: another writer moved the head first, and nothing of these rows was
    written; `append` them again."""
    driver = _pipelining(connection)
    if driver is None:
        raise RuntimeError("append_after needs PostgreSQL")
    last, previous = head
    _link(rows, last + len(rows), previous)
    moved = (rows[-1]["seq"], rows[-1]["hash"], rows[-1]["occurred_at"], tenant_id, last, previous)
    cursor = driver.cursor()
    with _as_sqlalchemy_errors():
        cursor.execute(SET_CONFIG, (TENANT_SETTING, tenant_id))
        cursor.execute(
            _pg_append_after(len(rows)),
            [*moved, *(_pg_value(column, row) for row in rows for column in _COLUMNS)],
        )
    return lambda: cursor.rowcount == len(rows)


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
    return {key: _pg_value(key, row) for key in row}


def _pg_value(column: str, row: dict[str, Any]) -> Any:
    return Json(row[column]) if column in _JSON_COLUMNS else row[column]


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
# Each cast to its column's type without a length: an explicit cast to VARCHAR(n) would
# cut a longer value silently (and break its hash), where the insert refuses it.
_PG_ENTRY_VALUES = (
    "("
    + ", ".join(
        f"%s::{column.type.compile(dialect=postgresql.dialect()).split('(')[0]}"
        for column in _ENTRIES.c
    )
    + ")"
)


@functools.lru_cache(maxsize=256)
def _pg_append_after(count: int) -> str:
    """Moves the head from where the writer left it and inserts `count` entries only if it
    moved: 0 rows inserted when another writer got there first. Positional parameters:
    the new head's seq, hash and time, the tenant, the head expected (seq, hash), then
    each entry's columns in table order."""
    return (
        "WITH moved AS (UPDATE audit_heads SET last_seq = %s, last_hash = %s, updated_at = %s "
        "WHERE tenant_id = %s AND last_seq = %s AND last_hash = %s RETURNING tenant_id) "
        f"INSERT INTO audit_entries ({', '.join(_COLUMNS)}) SELECT entry.* FROM moved, "
        f"(VALUES {', '.join([_PG_ENTRY_VALUES] * count)}) AS entry({', '.join(_COLUMNS)})"
    )
