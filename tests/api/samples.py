"""Sample graphs and webhook helpers that several API test modules share."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from api.schemas.hooks import SIGNATURE_HEADER
from api.services.hooks import signature_header

GRAPH = {
    "name": "greet",
    "inputs": {"type": "object", "properties": {"name": {"type": "string"}}},
    "nodes": [
        {"id": "hello", "type": "transform", "config": {"value": "Hello {{ inputs.name }}"}},
        {
            "id": "shout",
            "type": "transform",
            "config": {"expression": "nodes.hello.output | upper"},
        },
    ],
    "edges": [{"from": "hello", "to": "shout"}],
}


TICKET = {
    "name": "ticket",
    "inputs": {
        "type": "object",
        "properties": {"title": {"type": "string"}, "priority": {"type": "integer"}},
        "required": ["title"],
    },
    "nodes": [{"id": "echo", "type": "transform", "config": {"value": "{{ inputs.title }}"}}],
    "edges": [],
}


MAPPING = {
    "title": "{{ body.issue.title }}",
    "priority": "{{ body.issue.labels | length }}",
}


async def make_trigger(
    api: httpx.AsyncClient, headers: dict[str, str], graph_id: str, **fields: Any
) -> dict[str, Any]:
    body = {"name": "issues", "graph_id": graph_id, **fields}
    response = await api.post("/v1/triggers", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def deliver(
    api: httpx.AsyncClient,
    trigger: dict[str, Any],
    payload: Any,
    *,
    secret: str | None = None,
    timestamp: int | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    """Sign and send a delivery: v2 (covering the key) when `headers` has an Idempotency-Key."""
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    key = (headers or {}).get("Idempotency-Key")
    signed = signature_header(
        secret or trigger["secret"], timestamp or int(time.time()), raw, idempotency_key=key
    )
    return await api.post(
        trigger["url"],
        content=raw,
        params=params,
        headers={"content-type": "application/json", SIGNATURE_HEADER: signed, **(headers or {})},
    )


ISSUE = {"issue": {"title": "Printer on fire", "labels": ["urgent", "hardware"]}}
