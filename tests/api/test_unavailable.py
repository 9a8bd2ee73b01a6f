"""What the API answers when a part is missing or a route breaks: 503 problem+json with
Retry-After while the database is busy or down, a 500 problem for a bug; never a bare
error page and never a hung connection."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text

from auterity import migrate
from auterity.db import make_engine, make_sessionmaker
from auterity.settings import Settings
from tests.factories import auth_headers, make_member, save_graph
from tests.support import (
    POSTGRES_URL,
    free_port,
    fresh_postgres_database,
    postgres_reachable,
    serve,
)

GRAPH = {"name": "one-step", "nodes": [{"id": "t", "type": "transform", "config": {"value": 1}}]}


@contextmanager
def app_over_http(settings: Settings, **changes: Any) -> Iterator[tuple[FastAPI, str]]:
    from api.main import create_app

    app = create_app(settings.model_copy(update=changes))
    with serve(app) as url:
        yield app, url


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


async def test_an_unhandled_error_is_a_500_problem_that_leaks_nothing(settings: Settings) -> None:
    with app_over_http(settings) as (app, url):

        @app.get("/v1/boom")
        async def boom() -> None:
            raise RuntimeError("kaboom: internal detail 7f3a")

        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            response = await client.get("/v1/boom", headers={"X-Request-Id": "req-boom-1"})
            body = assert_problem(response, 500)
            assert "req-boom-1" in body["detail"]
            assert "kaboom" not in response.text and "7f3a" not in response.text
            assert (await client.get("/healthz")).status_code == 200  # still serving


async def test_a_busy_sqlite_answers_503_with_retry_after_then_recovers(
    settings: Settings, database_url: str
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the write lock is SQLite's")
    engine = make_engine(database_url)
    member = make_member(make_sessionmaker(engine))
    engine.dispose()
    with app_over_http(settings, sqlite_wait_seconds=0.5) as (_app, url):
        async with httpx.AsyncClient(base_url=url, timeout=20) as client:
            headers = await auth_headers(client, member)
            graph_id = await save_graph(client, headers, GRAPH)
            holder = sqlite3.connect(database_url.split("///", 1)[1], isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")  # another process writing, for too long
            try:
                response = await client.post(
                    f"/v1/graphs/{graph_id}/executions", json={}, headers=headers
                )
            finally:
                holder.execute("ROLLBACK")
                holder.close()
            body = assert_problem(response, 503)
            assert response.headers["retry-after"] == "1"
            assert "database is busy" in body["detail"]
            again = await client.post(f"/v1/graphs/{graph_id}/executions", json={}, headers=headers)
            assert again.status_code == 201, again.text


async def test_postgresql_on_a_closed_port_answers_503(
    settings: Settings, database_url: str
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("one leg is enough: the database is replaced")
    dead = f"postgresql://auterity@127.0.0.1:{free_port()}/auterity"
    with app_over_http(settings, database_url=dead) as (_app, url):
        async with httpx.AsyncClient(base_url=url, timeout=20) as client:
            login = await client.post(
                "/v1/auth/login", json={"email": "a@example.com", "password": "x" * 12}
            )
            body = assert_problem(login, 503)
            assert login.headers["retry-after"] == "5"
            assert "database is unavailable" in body["detail"]
            assert "127.0.0.1" not in login.text  # where the database lives stays in the log


async def test_postgresql_dropped_mid_test_answers_503_for_starts(
    settings: Settings, database_url: str
) -> None:
    if not database_url.startswith("postgres") or not postgres_reachable():
        pytest.skip("runs on the PostgreSQL leg")
    with fresh_postgres_database() as database:
        migrate.upgrade(Settings(database_url=database).database_url_resolved)
        resolved = Settings(database_url=database).database_url_resolved
        engine = make_engine(resolved)
        member = make_member(make_sessionmaker(engine))
        engine.dispose()
        with app_over_http(settings, database_url=database) as (_app, url):
            async with httpx.AsyncClient(base_url=url, timeout=20) as client:
                headers = await auth_headers(client, member)
                graph_id = await save_graph(client, headers, GRAPH)
                _drop(database.rpartition("/")[2])
                start = await client.post(
                    f"/v1/graphs/{graph_id}/executions", json={}, headers=headers
                )
                assert_problem(start, 503)
                assert start.headers["retry-after"] == "5"
                listed = await client.get("/v1/graphs", headers=headers)
                assert_problem(listed, 503)


def _drop(name: str) -> None:
    admin = create_engine(
        Settings(database_url=POSTGRES_URL).database_url_resolved, isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        )
        connection.execute(text(f'DROP DATABASE "{name}"'))
    admin.dispose()
