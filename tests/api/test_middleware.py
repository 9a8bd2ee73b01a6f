"""The ASGI middleware (api/middleware.py): body size limit and request metrics."""

from __future__ import annotations

import httpx


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
