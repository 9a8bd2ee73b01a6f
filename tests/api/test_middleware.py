"""The ASGI middleware (api/middleware.py): body size limit, request metrics, and the end of
a session only authentication used."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
from sqlalchemy import Engine

from auterity.settings import Settings
from tests.api.conftest import Member
from tests.support import serve


async def test_oversized_bodies_get_413(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/v1/graphs", content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
        headers={"content-type": "application/json"},
    )  # fmt: skip
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "request body exceeds 1048576 bytes"


async def test_metrics_count_requests(api: httpx.AsyncClient) -> None:
    await api.get("/healthz")
    metrics = (await api.get("/metrics")).text
    assert 'auterity_http_requests_total{method="GET",route="/healthz",status="200"}' in metrics


async def test_a_route_that_only_authenticates_gives_its_connection_back(
    settings: Settings, make_tenant: Callable[..., str], member: Callable[..., Awaitable[Member]]
) -> None:
    """The session authentication opens lives in the request's scope; a route without
    `SessionDep` (listing executions) leaves it to the middleware, which ends it. Without
    the cache every request reads the credential's rows: none keeps its connection."""
    from api.main import create_app

    reader = await member(make_tenant(), roles=["viewer"])
    app = create_app(settings.model_copy(update={"cache_seconds": 0}))
    engine = app.state.auterity.engine
    with serve(app) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            for _ in range(engine.pool.size() + 3):  # more than the pool holds
                listed = await client.get("/v1/executions", headers=reader.headers)
                assert listed.status_code == 200, listed.text
                assert await given_back(engine)
            refused = await client.get("/v1/executions", headers={"Authorization": "Bearer x"})
            assert refused.status_code == 401
            assert await given_back(engine)


async def given_back(engine: Engine) -> bool:
    """Whether the pool has every connection back within a second: the session ends once
    the response is out."""
    for _ in range(100):
        if engine.pool.checkedout() == 0:  # type: ignore[attr-defined]
            return True
        await asyncio.sleep(0.01)
    return False
