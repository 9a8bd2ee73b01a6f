"""Small graph builders shared by the workflow unit tests."""

from __future__ import annotations

import copy
from typing import Any

TRIAGE: dict[str, Any] = {
    "name": "triage-ticket",
    "inputs": {"type": "object", "properties": {"ticket": {"type": "string"}}},
    "nodes": [
        {
            "id": "classify",
            "type": "llm",
            "config": {"route": "fast", "prompt": "Classify: {{ inputs.ticket }}"},
            "retry": {"maximum_attempts": 5},
            "timeout": "60s",
        },
        {
            "id": "urgent",
            "type": "condition",
            "config": {"expression": "nodes.classify.output.text == 'urgent'"},
        },
        {
            "id": "approve",
            "type": "approval",
            "config": {"assignees": ["role:manager"], "timeout": "3d", "on_timeout": "reject"},
        },
        {
            "id": "notify",
            "type": "http",
            "config": {
                "method": "POST",
                "url": "{{ secrets.hook_url }}",
                "json": {"text": "{{ nodes.classify.output.text }}"},
            },
        },
    ],
    "edges": [
        {"from": "classify", "to": "urgent"},
        {"from": "urgent", "to": "approve", "when": "true"},
        {"from": "urgent", "to": "notify", "when": "false"},
        {"from": "approve", "to": "notify", "when": "approved"},
    ],
}
"""The example graph of DESIGN.md."""


def triage() -> dict[str, Any]:
    return copy.deepcopy(TRIAGE)


def node(node_id: str, kind: str = "transform", **fields: Any) -> dict[str, Any]:
    config = fields.pop("config", {"value": node_id} if kind == "transform" else {})
    return {"id": node_id, "type": kind, "config": config, **fields}


def edge(source: str, target: str, when: str | None = None) -> dict[str, Any]:
    return {"from": source, "to": target, **({"when": when} if when else {})}


def graph(
    nodes: list[dict[str, Any]], edges: list[dict[str, Any]], **fields: Any
) -> dict[str, Any]:
    return {"name": "test", "nodes": nodes, "edges": edges, **fields}
