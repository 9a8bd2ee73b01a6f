"""The API contract, checked over every operation in the OpenAPI document: credentials are
required, malformed bodies and unknown ids get problem+json 4xx, never a 500."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.factories import auth_headers, make_member

PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("POST", "/v1/auth/login"),
    ("POST", "/v1/auth/refresh"),
    ("POST", "/v1/auth/logout"),
    ("POST", "/v1/invitations/accept-new"),  # the invitation's token authenticates
    ("GET", "/v1/tasks/resume"),
    ("POST", "/v1/tasks/resume"),
}
PUBLIC_PREFIXES = ("/v1/hooks/", "/v1/sso/")
# SCIM is a protocol of its own: its token, and errors in SCIM's shape (RFC 7644 §3.12);
# tests/api/test_scim.py checks both.
SCIM_PREFIX = "/v1/scim/v2/"
METHODS = {"get", "post", "put", "patch", "delete"}


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def is_public(method: str, path: str) -> bool:
    return (method, path) in PUBLIC or path.startswith(PUBLIC_PREFIXES)


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "nope-0000", path)


def is_problem(response: httpx.Response) -> bool:
    body = response.json()
    return response.headers["content-type"].startswith("application/problem+json") and {
        "type", "title", "status", "detail",
    } <= set(body)  # fmt: skip


@pytest.fixture(scope="module")
async def document(api_url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=api_url) as client:
        return (await client.get("/openapi.json")).json()


async def test_every_operation_is_documented(document: dict[str, Any]) -> None:
    found = operations(document)
    assert len(found) > 40
    for method, path, operation in found:
        assert operation.get("description") or operation.get("summary"), (method, path)
        assert operation.get("tags"), (method, path)


async def test_every_private_operation_needs_credentials(api: httpx.AsyncClient, document) -> None:
    for method, path, _operation in operations(document):
        if is_public(method, path) or path.startswith(SCIM_PREFIX):
            continue
        response = await api.request(method, concrete(path), json={} if method != "GET" else None)
        assert response.status_code == 401, (method, path, response.status_code, response.text)
        assert is_problem(response), (method, path)


async def test_malformed_bodies_and_unknown_ids_are_4xx(
    api: httpx.AsyncClient, sessions, document
) -> None:
    headers = await auth_headers(api, make_member(sessions))
    for method, path, operation in operations(document):
        if "requestBody" in operation:
            response = await api.request(
                method, concrete(path), content=b'{"broken": ',
                headers={**headers, "content-type": "application/json"},
            )  # fmt: skip
            assert 400 <= response.status_code < 500, (method, path, response.text)
            assert is_problem(response), (method, path)
        if "{" in path and not path.startswith(SCIM_PREFIX):
            response = await api.request(method, concrete(path), headers=headers,
                                         json={} if method in {"POST", "PUT", "PATCH"} else None)  # fmt: skip
            assert response.status_code in (404, 405, 409, 422), (
                method,
                path,
                response.status_code,
                response.text,
            )
            assert is_problem(response), (method, path)
