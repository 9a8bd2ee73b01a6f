"""Health and readiness over HTTP against the real database and Temporal."""

from __future__ import annotations

import httpx

from api.main import create_app
from auterity.settings import load_settings
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
    assert "AUTERITY_TEMPORAL_ADDRESS" in body["checks"]["temporal"]["detail"]


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
