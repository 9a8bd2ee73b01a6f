"""Small helpers the test fixtures share: free ports, servers in threads, databases."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, create_engine, event, text

from auterity.dev import DEV_EGRESS_ALLOW
from auterity.egress import EgressPolicy

LOOPBACK_EGRESS = EgressPolicy.parse(DEV_EGRESS_ALLOW.split(","))
"""What `auterity dev` opens, so nodes may call the test servers on loopback; the default
policy (nothing but the public internet) is what attack tests use."""

POSTGRES_URL = os.environ.get(
    "AUTERITY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(
    app: FastAPI, port: int | None = None, tls: tuple[Path, Path] | None = None
) -> Iterator[str]:
    """Serve an ASGI app over real HTTP on loopback in a thread; yield its base URL. With
    `tls` (certificate and key files), over HTTPS."""
    port = port or free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
        ssl_certfile=tls[0] if tls else None, ssl_keyfile=tls[1] if tls else None,
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test API server did not start")
        time.sleep(0.02)
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def postgres_reachable() -> bool:
    try:
        engine = create_engine(_psycopg(POSTGRES_URL), connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001 - unreachable for any reason
        return False


def _psycopg(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Create an empty database on the test server; drop it afterwards. Yields its URL."""
    name = f"auterity_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_psycopg(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = POSTGRES_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


class DatabaseOnEventLoop(RuntimeError):
    """A statement ran on the thread of a running event loop: it stalls every request."""


def forbid_database_on_the_event_loop(engine: Engine) -> None:
    """Make every statement `engine` runs on an event loop's thread fail (a 500 the test
    sees), so no `async def` route or dependency can block the loop on the database."""

    def check(*_args: object) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # a worker thread: where database calls belong
        raise DatabaseOnEventLoop("a database call ran on the event loop")

    event.listen(engine, "before_cursor_execute", check)


async def metric(api: httpx.AsyncClient, name: str, **labels: str) -> float:
    """The sum of the series `name` with these labels on the API's /metrics (0 when none)."""
    text = (await api.get("/metrics")).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )
