"""Group commit: entries of concurrent requests written in one transaction.

On PostgreSQL the entries are written from the event loop, on an asyncio connection of
their own; elsewhere (SQLite, whose driver has no asyncio) by one thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, Unpack

import psycopg
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from auterity import cache
from auterity.audit.append import EntryFields, append, append_async, appending, entry
from auterity.security.principal import Actor, Principal

_WRITER_IDLE_SECONDS = 10.0
_CONNECT_TIMEOUT_SECONDS = 5
# A batch the database has not committed by then fails its callers (503) instead of holding
# them, and every request behind them, while the server is unreachable.
_WRITE_TIMEOUT_SECONDS = 15.0

Batch = Sequence[tuple[dict[str, Any], Any]]  # (row, its caller's future) pairs


class Writer:
    """Appends entries whose action changed nothing in the database (a run started in
    Temporal, say), many requests' entries per transaction: group commit.

    `await writer.append(session, …)` returns once its entry is committed, so a caller
    that waits for it knows its action is on the record. Under load the entries that
    arrive while one transaction commits go into the next, one claim, insert and head
    update per tenant, so a request pays a fraction of the round trips and commits.

    On PostgreSQL the transaction runs on the event loop (`_LoopSink`): a writer thread
    would wait for the interpreter lock after each round trip while the loop prepares the
    next request, and every entry's commit would come later for it.
    """

    def __init__(self, engine: Engine, *, max_batch: int = 200) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._loop_sink = (
            _LoopSink(cache.libpq_url(engine.url), max_batch, self._settle)
            if engine.dialect.name == "postgresql"
            else None
        )
        self._connection: Connection | None = None  # the writer thread's own, kept between batches
        self._last_used = 0.0
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
        the writer's hands before this first yields: a caller that stops waiting then
        leaves its entry to be written all the same."""
        if self._loop_sink is not None:
            return await self._loop_sink.write(row)
        done: Future[str] = Future()
        self._start()
        self._queue.put((row, done))
        return await asyncio.wrap_future(done)

    async def aclose(self) -> None:
        """Write what is queued, then stop."""
        if self._loop_sink is not None:
            await self._loop_sink.aclose()
        await asyncio.to_thread(self._stop_thread)

    def _settle(self, batch: Batch, error: BaseException | None) -> None:
        """Tell each caller of `batch` its entry's id, or the error that lost it."""
        if error is None:
            self.entries += len(batch)
        for row, done in batch:
            if done.done():  # its caller gave up waiting; the entry is written all the same
                continue
            if error is None:
                done.set_result(str(row["id"]))
            else:
                done.set_exception(error)

    def _stop_thread(self) -> None:
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
        try:
            if time.monotonic() - self._last_used > _WRITER_IDLE_SECONDS:
                self._disconnect()  # idle a while: check out afresh (the pool pings it)
            if self._connection is None:
                self._connection = self._engine.connect()
            self._last_used = time.monotonic()
            with appending(self._connection):
                for tenant_id, rows in _by_tenant(batch).items():
                    append(self._connection, tenant_id, rows)
        except Exception as exc:  # noqa: BLE001 - every waiting caller gets the error
            self._disconnect()
            self._settle(batch, exc)
            return
        self._settle(batch, None)


class _LoopSink:
    """The writer's PostgreSQL transactions, on the event loop: a task writes what is
    pending, a batch per transaction, while requests keep adding to the next one."""

    def __init__(
        self, conninfo: str, max_batch: int, settle: Callable[[Batch, BaseException | None], None]
    ) -> None:
        self._conninfo = conninfo
        self._max_batch = max_batch
        self._settle = settle
        self._pending: list[tuple[dict[str, Any], asyncio.Future[str]]] = []
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connection: psycopg.AsyncConnection[Any] | None = None
        self._last_used = 0.0

    async def write(self, row: dict[str, Any]) -> str:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # first use, or a new loop (tests): start afresh on it
            self._forget_connection()
            self._loop, self._pending, self._task = loop, [], None
        done: asyncio.Future[str] = loop.create_future()
        self._pending.append((row, done))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._drain(), name="auterity-audit-writer")
        return await done

    async def aclose(self) -> None:
        if self._task is not None and self._loop is asyncio.get_running_loop():
            await self._task
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()

    async def _drain(self) -> None:
        while self._pending:
            size = self._max_batch
            batch, self._pending = self._pending[:size], self._pending[size:]
            try:
                await asyncio.wait_for(self._write(batch), _WRITE_TIMEOUT_SECONDS)
            except Exception as exc:  # noqa: BLE001 - every waiting caller gets the error
                self._forget_connection()
                self._settle(batch, exc)
            else:
                self._settle(batch, None)

    async def _write(self, batch: Batch) -> None:
        if time.monotonic() - self._last_used > _WRITER_IDLE_SECONDS:
            self._forget_connection()  # idle a while: the server may have dropped it
        if self._connection is None:
            self._connection = await psycopg.AsyncConnection.connect(
                self._conninfo, connect_timeout=_CONNECT_TIMEOUT_SECONDS
            )
        self._last_used = time.monotonic()
        connection = self._connection
        try:
            async with connection.pipeline():
                for tenant_id, rows in _by_tenant(batch).items():
                    await append_async(connection, tenant_id, rows)
                await connection.commit()
        except BaseException:
            with contextlib.suppress(Exception):
                await connection.rollback()
            raise

    def _forget_connection(self) -> None:
        """Drop the connection without waiting for the server (it may be gone, or belong
        to a loop that has ended)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.pgconn.finish()


def _by_tenant(batch: Batch) -> dict[str, list[dict[str, Any]]]:
    by_tenant: dict[str, list[dict[str, Any]]] = {}
    for row, _done in batch:
        by_tenant.setdefault(row["tenant_id"], []).append(row)
    return by_tenant
