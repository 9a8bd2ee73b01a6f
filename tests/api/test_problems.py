"""Errors as problem+json (api/problems.py), even for a path no route serves."""

from __future__ import annotations

import httpx


async def test_unknown_path_is_problem_json(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 404
