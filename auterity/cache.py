"""A per-process cache of what every request reads and almost nothing writes.

Authenticating a caller, finding a graph's current version and redacting an
audit entry read the same few rows on every request: the sign-in session,
membership and roles; the graph's current version; the tenant's secrets. This
cache keeps what was read, per tenant, and forgets a tenant's entries the moment
one of the rows they came from changes:

- every session made by `auterity.db.make_sessionmaker` notes which tenants its
  flushes and bulk statements touched in the tables `_watch_models` lists (a
  `users` row, which belongs to no tenant, touches them all);
- when that transaction commits, this process drops those tenants' entries;
- on PostgreSQL the transaction also sends `NOTIFY auterity_cache, '<tenant>'`,
  delivered with its commit, and every API process `listen`s: the other
  replicas forget within milliseconds. While a process is not listening (not
  yet connected, or the connection dropped) its cache is off, so no replica
  ever serves an entry that a missed notification should have dropped.

Entries also expire after `ttl` seconds, which bounds what a change made
outside these hooks (another process on SQLite, a hand-written SQL statement)
can leave behind. A load that raced with a change is never stored: `put`
takes the generation read before the load and drops the value if the tenant
was invalidated meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import URL, event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction, sessionmaker

from auterity.security import scoping

log = logging.getLogger("auterity.cache")

ALL = "*"
CHANNEL = "auterity_cache"
SESSION_KEY = "auterity.cache"
_PENDING = "auterity.cache.pending"
_OFFLINE = "auterity.cache.offline"
_MAX_ENTRIES_PER_TENANT = 4096

T = TypeVar("T")
_MISSING: Any = object()


class TenantCache:
    """Values per (tenant, key), dropped per tenant on invalidation or after `ttl` seconds."""

    def __init__(
        self, ttl: float, *, enabled: bool = True, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self._clock = clock
        self._enabled = enabled and ttl > 0
        self._lock = threading.Lock()
        self._entries: dict[str, dict[Hashable, tuple[float, Any]]] = {}
        self._where: dict[Hashable, str] = {}  # key -> tenant, for keys found without a tenant
        self._changes = 0  # bumped by every invalidation

    @property
    def enabled(self) -> bool:
        return self._enabled

    def enable(self, on: bool) -> None:
        """Turn the cache on or off; either way it starts empty."""
        with self._lock:
            self._enabled = on and self.ttl > 0
            self._clear()

    def generation(self) -> int:
        """Read this before loading a value; pass it to `put`."""
        return self._changes

    def get(self, tenant_id: str, key: Hashable) -> Any:
        """The value, or `MISSING`."""
        entry = self._entries.get(tenant_id, {}).get(key) if self._enabled else None
        if entry is None or entry[0] < self._clock():
            return _MISSING
        return entry[1]

    def find(self, key: Hashable) -> Any:
        """The value put with `findable=True` under `key`, whatever its tenant, or `MISSING`."""
        tenant_id = self._where.get(key)
        return _MISSING if tenant_id is None else self.get(tenant_id, key)

    def put(
        self, tenant_id: str, key: Hashable, value: Any, generation: int, *, findable: bool = False
    ) -> None:
        """Keep `value` unless something was invalidated since `generation` was read."""
        with self._lock:
            if not self._enabled or generation != self._changes:
                return
            entries = self._entries.setdefault(tenant_id, {})
            if len(entries) >= _MAX_ENTRIES_PER_TENANT:
                entries.clear()
            entries[key] = (self._clock() + self.ttl, value)
            if findable:
                if len(self._where) >= _MAX_ENTRIES_PER_TENANT * 16:
                    self._where.clear()
                self._where[key] = tenant_id

    def load(self, tenant_id: str, key: Hashable, loader: Callable[[], T]) -> T:
        """The cached value, or `loader()`'s, kept for next time."""
        value = self.get(tenant_id, key)
        if value is not _MISSING:
            return value  # type: ignore[no-any-return]
        generation = self._changes
        value = loader()
        self.put(tenant_id, key, value, generation)
        return value

    def invalidate(self, tenant_id: str) -> None:
        """Forget the tenant's entries (`ALL`: every tenant's)."""
        with self._lock:
            if tenant_id == ALL:
                self._clear()
            else:
                self._changes += 1
                self._entries.pop(tenant_id, None)

    def _clear(self) -> None:
        self._changes += 1
        self._entries.clear()
        self._where.clear()


MISSING = _MISSING


def of(target: Session | sessionmaker[Session]) -> TenantCache | None:
    """The cache of a session's sessionmaker, or of a sessionmaker (None: no cache)."""
    if isinstance(target, sessionmaker):
        return target.kw.get("info", {}).get(SESSION_KEY)  # type: ignore[no-any-return]
    return target.info.get(SESSION_KEY)


class Miss(Exception):
    """Raised instead of loading while the session is `offline` (see `from_cache`)."""


def cached(session: Session, tenant_id: str | None, key: Hashable, loader: Callable[[], T]) -> T:
    """`loader()`, through the session's cache when it has one and the session has not
    itself changed a watched row of the tenant (its own writes are not committed yet)."""

    def load() -> T:
        going_online(session)
        return loader()

    shared = of(session)
    if shared is None or tenant_id is None or _wrote(session, tenant_id):
        return load()
    return shared.load(tenant_id, key, load)


def going_online(session: Session) -> None:
    """Call before a database read that the cache could not spare: `Miss` when offline."""
    if session.info.get(_OFFLINE):
        raise Miss


async def from_cache(session: Session, work: Callable[[], T]) -> T:
    """`work()`: on the event loop when all it reads is cached, else in a worker thread.

    `work` runs first with the session `offline`, where a cache miss raises `Miss`
    before any database I/O; it must not change anything before its first read."""
    if scoping.connected(session):
        return await asyncio.to_thread(work)
    session.info[_OFFLINE] = True
    try:
        return work()
    except Miss:
        pass
    finally:
        session.info.pop(_OFFLINE, None)
    return await asyncio.to_thread(work)


def _wrote(session: Session, tenant_id: str) -> bool:
    pending = session.info.get(_PENDING, ())
    if tenant_id in pending or ALL in pending:
        return True
    return any(type(row) in _watched for row in (*session.new, *session.dirty, *session.deleted))


# --- invalidation: which writes drop which tenant's entries -------------------------------

_watched: dict[type, Callable[[Any], str]] = {}


def _watch_models() -> None:
    """The tables cached reads come from; a write to a row invalidates its tenant."""
    from auterity.models.graphs import SavedGraph
    from auterity.models.identity import ApiKey, AuthSession, Membership, MembershipRole, Role
    from auterity.models.secrets import Secret
    from auterity.models.tenancy import Tenant, User

    for model in (SavedGraph, ApiKey, AuthSession, Membership, MembershipRole, Role, Secret):
        _watched[model] = lambda row: row.tenant_id
    _watched[Tenant] = lambda row: row.id
    _watched[User] = lambda _row: ALL  # a user belongs to no one tenant


def install(factory: Any, cache: TenantCache) -> None:
    """Give every session of `factory` the cache and the hooks that keep it true."""
    if not _watched:
        _watch_models()
    factory.kw.setdefault("info", {})[SESSION_KEY] = cache
    event.listen(factory, "after_flush", _note_flush)
    event.listen(factory, "do_orm_execute", _note_bulk)
    event.listen(factory, "before_commit", _notify_others)
    event.listen(factory, "after_commit", _invalidate_here)
    event.listen(factory, "after_soft_rollback", _forget_pending)


def _pending(session: Session) -> set[str]:
    return session.info.setdefault(_PENDING, set())  # type: ignore[no-any-return]


def _note_flush(session: Session, _flush: UOWTransaction) -> None:
    for row in (*session.new, *session.dirty, *session.deleted):
        tenant_of = _watched.get(type(row))
        if tenant_of is not None:
            _pending(session).add(tenant_of(row) or ALL)


def _note_bulk(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    if any(mapper.class_ in _watched for mapper in state.all_mappers):
        _pending(state.session).add(scoping.current_tenant(state.session) or ALL)


def _notify_others(session: Session) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return
    if session.new or session.dirty or session.deleted:
        session.flush()  # commit flushes after this hook: flush now to learn what changed
    tenants = session.info.get(_PENDING)
    if tenants:
        connection = session.connection()
        for tenant_id in sorted(tenants):
            connection.exec_driver_sql("SELECT pg_notify(%s, %s)", (CHANNEL, tenant_id))


def _invalidate_here(session: Session) -> None:
    tenants = session.info.pop(_PENDING, None)
    cache = of(session)
    if tenants and cache is not None:
        for tenant_id in tenants:
            cache.invalidate(tenant_id)


def _forget_pending(session: Session, _previous: Any) -> None:
    session.info.pop(_PENDING, None)


# --- PostgreSQL: hear the other processes' invalidations ----------------------------------


class Listener:
    """A thread that `LISTEN`s on `CHANNEL` and invalidates the cache; the cache is on only
    while it is connected."""

    def __init__(self, url: URL, cache: TenantCache, *, retry_seconds: float = 1.0) -> None:
        # psycopg wants libpq's URL, without SQLAlchemy's "+psycopg".
        self._url = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._cache = cache
        self._retry = retry_seconds
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._thread = threading.Thread(target=self._run, name="auterity-cache-listener",
                                        daemon=True)  # fmt: skip

    def start(self, wait: float = 5.0) -> Listener:
        self._cache.enable(False)
        self._thread.start()
        self._connected.wait(wait)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._cache.enable(False)

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True, connect_timeout=5) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    self._cache.enable(True)
                    self._connected.set()
                    while not self._stop.is_set():
                        for note in connection.notifies(timeout=0.5):
                            self._cache.invalidate(note.payload or ALL)
                        connection.execute("SELECT 1")  # notice a dropped connection
            except Exception as exc:  # noqa: BLE001 - any failure: cache off, reconnect
                log.warning("cache listener disconnected (%s); cache off until it reconnects",
                            str(exc).splitlines()[0] if str(exc) else type(exc).__name__)  # fmt: skip
            self._cache.enable(False)
            self._connected.clear()
            self._stop.wait(self._retry)
