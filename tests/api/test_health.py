"""Health and readiness over HTTP against the real database and Temporal."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text

from api.main import create_app
from api.services.health import metrics_allowed
from auterity.db import make_engine
from auterity.settings import Settings, load_settings
from tests.api.samples import TICKET, deliver, make_trigger
from tests.factories import save_graph
from tests.support import free_port, serve


async def test_healthz(api: httpx.AsyncClient) -> None:
    response = await api.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_database_and_temporal(api: httpx.AsyncClient) -> None:
    response = await api.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["temporal"]["status"] == "ok"


async def test_readyz_is_503_and_names_temporal_when_it_is_down(tmp_path, database_url) -> None:
    settings = load_settings(
        home=tmp_path, database_url=database_url, temporal_address=f"127.0.0.1:{free_port()}"
    )
    with serve(create_app(settings)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["temporal"]["status"] == "down"
    detail = body["checks"]["temporal"]["detail"]
    assert "AUTERITY_TEMPORAL_ADDRESS" in detail
    assert "127.0.0.1" not in detail and str(settings.temporal_address) not in detail


async def test_readyz_is_503_when_the_database_is_down(tmp_path, temporal_address) -> None:
    settings = load_settings(
        home=tmp_path,
        database_url=f"postgresql://nobody@127.0.0.1:{free_port()}/none",
        temporal_address=temporal_address,
    )
    with serve(create_app(settings)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"]["status"] == "down"
    assert body["checks"]["temporal"]["status"] == "ok"
    assert "127.0.0.1" not in response.text and "nobody" not in response.text  # no host, no login


@contextmanager
def audit_trail_locked(database_url: str, tenant_id: str) -> Iterator[None]:
    """Another connection holds what appending to the tenant's audit trail needs: the
    chain head's row lock on PostgreSQL, the database's write lock on SQLite."""
    engine = make_engine(Settings(database_url=database_url).database_url_resolved)
    try:
        with engine.connect() as connection, connection.begin():
            if engine.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT 1 FROM audit_heads WHERE tenant_id = :t FOR UPDATE"),
                    {"t": tenant_id},
                )
            else:  # BEGIN IMMEDIATE (auterity.db) took the write lock
                connection.execute(text("SELECT 1"))
            yield
    finally:
        engine.dispose()


async def _healthz_latency(api: httpx.AsyncClient, times: int) -> float:
    slowest = 0.0
    for _ in range(times):
        started = time.perf_counter()
        assert (await api.get("/healthz")).status_code == 200
        slowest = max(slowest, time.perf_counter() - started)
        await asyncio.sleep(0.1)
    return slowest


WAIT = {
    "name": "waits",
    "nodes": [{"id": "nap", "type": "wait", "config": {"duration": "1h"}}],
    "edges": [],
}


@pytest.mark.parametrize("action", ["webhook", "cancel"])
async def test_a_request_waiting_on_a_lock_does_not_stall_the_api(
    api: httpx.AsyncClient, owner, database_url: str, action: str
) -> None:
    """Attack: a tenant's request that waits on the database (a lock, a slow query) must
    wait in a worker thread; on the event loop it would stall every tenant's requests."""
    member, headers = owner
    if action == "webhook":
        graph_id = await save_graph(api, headers, TICKET)
        trigger = await make_trigger(api, headers, graph_id)
        request: Any = lambda: deliver(api, trigger, {"title": "locked"})  # noqa: E731
    else:
        graph_id = await save_graph(api, headers, WAIT)
        started = await api.post(f"/v1/graphs/{graph_id}/executions", json={}, headers=headers)
        execution_id = started.json()["id"]
        request = lambda: api.post(f"/v1/executions/{execution_id}/cancel", headers=headers)  # noqa: E731
    with audit_trail_locked(database_url, member.tenant_id):
        waiting = asyncio.create_task(request())
        await asyncio.sleep(0.5)  # the request is now blocked on the lock
        slowest = await _healthz_latency(api, 10)
        assert not waiting.done(), "the request did not wait for the lock"
    response = await asyncio.wait_for(waiting, 30)
    assert response.status_code in (202, 200), response.text
    assert slowest < 1.0, f"/healthz took {slowest:.2f}s while a request waited on a lock"


async def test_metrics_take_the_scrape_token_when_one_is_set(tmp_path, database_url) -> None:
    settings = load_settings(
        home=tmp_path, database_url=database_url, metrics_token="s3cret-scrape"
    )
    with serve(create_app(settings)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            assert (await client.get("/metrics")).status_code == 401
            wrong = {"Authorization": "Bearer guess"}
            assert (await client.get("/metrics", headers=wrong)).status_code == 401
            right = {"Authorization": "Bearer s3cret-scrape"}
            scraped = await client.get("/metrics", headers=right)
    assert scraped.status_code == 200 and "auterity_http_requests_total" in scraped.text


def test_metrics_are_off_in_production_without_a_token() -> None:
    production = load_settings(
        env="production", secret_key="x" * 40, database_url="postgresql://app@db/auterity",
        model_routes={"default": ["openai/gpt-4o-mini"]},
    )  # fmt: skip
    assert metrics_allowed(production, None) is None
    assert metrics_allowed(production, "Bearer anything") is None
    token = production.model_copy(update={"metrics_token": SecretStr("t0ken")})
    assert metrics_allowed(token, "Bearer t0ken") is True
    assert metrics_allowed(token, "Bearer nope") is False
    assert metrics_allowed(load_settings(env="test"), None) is True  # development: open
