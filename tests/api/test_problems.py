"""Errors as problem+json (api/problems.py), even for a path no route serves."""

from __future__ import annotations

import httpx


async def test_unknown_path_is_problem_json(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 404


async def test_a_value_the_database_cannot_store_is_a_422(api: httpx.AsyncClient, owner) -> None:
    """A NUL character passes validation but not PostgreSQL: the caller's fault, not a 500."""
    _member, headers = owner
    response = await api.get("/v1/triggers", params={"graph_id": "gr_\x00"}, headers=headers)
    assert response.status_code in (200, 422), response.text  # SQLite stores NULs
    if response.status_code == 422:
        assert "cannot be stored" in response.json()["detail"]
