"""Group commit: entries of concurrent requests written in one transaction by one thread."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from typing import Any, Unpack

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from auterity import cache
from auterity.audit.append import (
    EntryFields,
    append,
    append_after,
    appending,
    entry,
    unprepare,
)
from auterity.security.principal import Actor, Principal

_WRITER_IDLE_SECONDS = 10.0


class Writer:
    """Appends entries whose action changed nothing in the database (a run started in
    Temporal, say), many requests' entries per transaction: group commit.

    `await writer.append(session, …)` returns once its entry is committed, so a caller
    that waits for it knows its action is on the record. Under load the entries that
    arrive while one transaction commits go into the next, one claim, insert and head
    update per tenant, so a request pays a fraction of the round trips and commits.

    On PostgreSQL it remembers where it left each tenant's chain head, so the next
    entries are linked onto it and written with the commit in one round trip; only when
    another writer moved the head meanwhile does it claim links as `append` does.
    """

    def __init__(
        self, engine: Engine, *, max_batch: int = 200, remembered_heads: int = 10_000
    ) -> None:
        self._engine = engine
        self._connection: Connection | None = None  # the writer thread's own, kept between batches
        self._last_used = 0.0
        self._max_batch = max_batch
        # tenant id -> (last seq, last hash) of its chain as this writer's last commit left it
        self._heads: OrderedDict[str, tuple[int, str]] = OrderedDict()
        self._prepared: set[bytes] = set()  # statements prepared on the connection held
        self._remembered_heads = remembered_heads
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

        return await self.write(await cache.from_cache(session, build))

    async def write(self, row: dict[str, Any]) -> str:
        """Append an entry built by `entry`, once it is committed; its id. The row is in
        the writer's hands before this first yields: a caller that stops waiting (its
        client went away) leaves its entry to be written all the same."""
        done: Future[str] = Future()
        self._start()
        self._queue.put((row, done))
        return await asyncio.wrap_future(done)

    async def aclose(self) -> None:
        """Write what is queued, then stop."""
        await asyncio.to_thread(self._stop)

    def _stop(self) -> None:
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
        """Give the connection back to the pool, without the statements prepared on it."""
        connection, self._connection = self._connection, None
        prepared, self._prepared = self._prepared, set()
        if connection is None:
            return
        try:
            if not connection.invalidated:
                unprepare(connection, prepared)
        except Exception:  # noqa: BLE001 - they might linger: the connection goes instead
            with contextlib.suppress(Exception):
                connection.invalidate()
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
            moved = self._append(self._connection, by_tenant)
        except Exception as exc:  # noqa: BLE001 - every waiting caller gets the error
            self._heads.clear()
            self._disconnect()
            self._settle(batch, exc)
            return
        written = [item for item in batch if item[0]["tenant_id"] not in moved]
        self.entries += len(written)
        self._settle(written, None)
        if moved:  # their heads are forgotten: this time they claim their links
            self._write([item for item in batch if item[0]["tenant_id"] in moved])

    def _append(
        self, connection: Connection, by_tenant: dict[str, list[dict[str, Any]]]
    ) -> set[str]:
        """One transaction: when this writer knows every tenant's head, their entries are
        linked onto it, else they claim their links. The tenants whose head another writer
        had moved: none of their entries were written."""
        remembering = connection.dialect.name == "postgresql"  # SQLite: one writer at a time
        if remembering and all(map(self._heads.__contains__, by_tenant)):
            moved = append_after(
                connection,
                {
                    tenant_id: (rows, self._heads[tenant_id])
                    for tenant_id, rows in by_tenant.items()
                },
                self._prepared,
            )
        else:
            moved = set()
            with appending(connection):
                for tenant_id, rows in by_tenant.items():
                    append(connection, tenant_id, rows)
        if remembering:
            self._remember(by_tenant, moved)
        return moved

    def _remember(self, by_tenant: dict[str, list[dict[str, Any]]], moved: set[str]) -> None:
        """Where this commit left each tenant's head; a head another writer moved is
        forgotten. The least recently used go beyond `remembered_heads`."""
        for tenant_id, rows in by_tenant.items():
            if tenant_id in moved:
                del self._heads[tenant_id]
                continue
            self._heads[tenant_id] = (rows[-1]["seq"], rows[-1]["hash"])
            self._heads.move_to_end(tenant_id)
        while len(self._heads) > self._remembered_heads:
            self._heads.popitem(last=False)

    @staticmethod
    def _settle(batch: list[tuple[dict[str, Any], Future[str]]], error: Exception | None) -> None:
        """Tell each caller its entry's id, or the error that lost it. A caller that stopped
        waiting cancelled its future: setting it would raise here and end this thread."""
        for row, done in batch:
            if done.done():
                continue
            if error is None:
                done.set_result(str(row["id"]))
            else:
                done.set_exception(error)
