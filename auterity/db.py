"""Database engine and sessions (SQLAlchemy 2, synchronous).

SQLite is the embedded default, PostgreSQL the production engine; the same ORM
models and migrations serve both.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from auterity import cache
from auterity.errors import ConfigError, DependencyUnavailable
from auterity.security.scoping import install_tenant_scope, set_tenant

SQLITE_WAIT_SECONDS = 10.0
"""How long a transaction on SQLite waits for the write lock: first its turn among this
process's transactions, then SQLite's busy timeout against other processes. Past it the
transaction fails with "database is locked", which the API answers with 503."""


def make_engine(
    url: str, *, sqlite_wait_seconds: float = SQLITE_WAIT_SECONDS, **kwargs: object
) -> Engine:
    """An engine for `url`; SQLite gets WAL and foreign keys, its folder is created, and its
    transactions queue in turn for the write lock (`WriterTurns`), each waiting at most
    `sqlite_wait_seconds` for its turn and as long again for other processes."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": sqlite_wait_seconds},
            **kwargs,
        )
        turns = WriterTurns(sqlite_wait_seconds)
        busy_ms = int(sqlite_wait_seconds * 1000)
        event.listen(engine, "connect", lambda dbapi, _record: _sqlite_pragmas(dbapi, busy_ms))
        event.listen(engine, "begin", turns.begin)
        event.listen(engine, "commit", turns.end)
        event.listen(engine, "rollback", turns.end)
        event.listen(engine, "checkin", turns.checked_in)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **kwargs)


def _sqlite_pragmas(dbapi_connection, busy_ms: int) -> None:  # type: ignore[no-untyped-def]
    # Transactions are begun explicitly (below), not by the driver.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
    cursor.close()


class WriterTurns:
    """This process's SQLite transactions take the write lock one at a time, first come
    first served, before asking SQLite for it (`BEGIN IMMEDIATE`).

    SQLite's busy handler polls with growing sleeps, so under steady load a waiter can
    lose to newcomers until its timeout: requests then stall for the whole busy timeout
    and fail. Queued here, a transaction waits only for those ahead of it, and SQLite's
    own wait is left to arbitrate between processes (the API and the worker).

    The turn is held from `begin` to `commit`/`rollback` (or the connection's return to
    the pool) and may be released by another thread than the one that took it.
    """

    HELD = "auterity_writer_turn"

    def __init__(self, wait_seconds: float = SQLITE_WAIT_SECONDS) -> None:
        self.wait_seconds = wait_seconds
        self._mutex = threading.Lock()
        self._held = False
        self._queue: collections.deque[threading.Event] = collections.deque()

    def begin(self, connection) -> None:  # type: ignore[no-untyped-def]
        if not self._acquire():
            raise OperationalError(
                "BEGIN IMMEDIATE",
                None,
                Exception(f"database is locked (no turn to write within {self.wait_seconds:g}s)"),
            )
        connection.info[self.HELD] = True
        try:
            # Deferred transactions that read and then write fail at once with "database is
            # locked" when another connection wrote in between; immediate ones queue.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            self.end(connection)
            raise

    def end(self, connection) -> None:  # type: ignore[no-untyped-def]
        if connection.info.pop(self.HELD, False):
            self._release()

    def checked_in(self, dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
        """A connection back in the pool no longer writes, however its transaction ended."""
        if record.info.pop(self.HELD, False):
            self._release()

    def _acquire(self) -> bool:
        with self._mutex:
            if not self._held and not self._queue:
                self._held = True
                return True
            turn = threading.Event()
            self._queue.append(turn)
        if turn.wait(self.wait_seconds):
            return True
        with self._mutex:
            if turn in self._queue:
                self._queue.remove(turn)
                return False
        return True  # handed over just as the wait ran out

    def _release(self) -> None:
        with self._mutex:
            if self._queue:
                self._queue.popleft().set()  # the turn passes on; still held
            else:
                self._held = False


def make_sessionmaker(engine: Engine, *, cache_seconds: float = 0.0) -> sessionmaker[Session]:
    """Sessions whose ORM queries see one tenant's rows (`auterity.security.scoping`) and
    whose commits keep every process's `auterity.cache` true.

    With `cache_seconds`, the sessions carry a cache; on PostgreSQL it stays off until
    `cache.Listener` hears other processes' invalidations.
    """
    factory = sessionmaker(engine, expire_on_commit=False)
    install_tenant_scope(factory)
    postgres = engine.dialect.name == "postgresql"
    cache.install(factory, cache.TenantCache(cache_seconds, enabled=not postgres))
    return factory


@contextmanager
def transaction(factory: sessionmaker[Session], tenant_id: str | None = None) -> Iterator[Session]:
    """A session whose work commits on success and rolls back on error, in `tenant_id` if given."""
    with factory() as session, session.begin():
        if tenant_id is not None:
            set_tenant(session, tenant_id)
        yield session


def check_database(engine: Engine) -> None:
    """Raise DependencyUnavailable unless a trivial query succeeds."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any driver error means "unreachable"
        raise DependencyUnavailable(
            f"database at {engine.url.render_as_string(hide_password=True)} is unreachable: "
            f"{str(exc).splitlines()[0]}"
        ) from None


LOGIN_PRIVILEGES = text(
    """
    SELECT r.rolname, r.rolsuper, r.rolbypassrls,
           (SELECT string_agg(c.relname, ', ' ORDER BY c.relname)
              FROM pg_class c
             WHERE c.relnamespace = current_schema()::regnamespace
               AND c.relkind IN ('r', 'p')
               AND pg_has_role(current_user, c.relowner, 'MEMBER')) AS owned
      FROM pg_roles r
     WHERE r.rolname = current_user
    """
)


def check_app_login(engine: Engine, setting: str = "AUTERITY_DATABASE_URL") -> None:
    """Raise ConfigError unless row-level security binds the app's PostgreSQL login.

    A superuser or a BYPASSRLS login skips every policy, and the tables' owner (or a
    member of the owner's role, who may become it) can lift them: the app must connect
    as a member of `auterity_app` that is none of these. SQLite has no logins.
    """
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as connection:
        name, superuser, bypass, owned = connection.execute(LOGIN_PRIVILEGES).one()
    why = (
        "is a superuser"
        if superuser
        else "has BYPASSRLS"
        if bypass
        else f"owns the application tables ({_shorten(owned)})"
        if owned
        else None
    )
    if why is not None:
        raise ConfigError(
            f"{setting} login {name!r} {why}, so row-level security would not bind it; "
            "connect as a non-owner login in the auterity_app role and give the owner to "
            "AUTERITY_MIGRATION_DATABASE_URL (see README, Database logins)"
        )


def _shorten(names: str, most: int = 3) -> str:
    parts = names.split(", ")
    return ", ".join(parts[:most]) + (f" and {len(parts) - most} more" if len(parts) > most else "")
