"""Templates: parameterized graphs, saved and instantiated."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import MAX_VERSION, Body


# Validated from a `services.templates.TemplateSpec` (built-in or the tenant's own).
class TemplateRead(BaseModel):
    id: str
    name: str
    description: str
    version: int
    builtin: bool
    tags: list[str] = Field(default_factory=list)
    parameters: dict[str, Any]
    graph: dict[str, Any] | None = None


TEMPLATE_EXAMPLE: dict[str, Any] = {
    "id": "greet-customer",
    "name": "Greet a customer",
    "description": "A one-node graph that greets a customer in the chosen tone.",
    "parameters": {
        "type": "object",
        "properties": {"tone": {"type": "string", "default": "friendly"}},
        "additionalProperties": False,
    },
    "graph": {
        "name": "greet-customer",
        "inputs": {
            "type": "object",
            "properties": {"name": {"type": "string"}},
            "required": ["name"],
        },
        "nodes": [
            {
                "id": "greet",
                "type": "transform",
                "config": {"value": "A {{ params.tone }} hello to {{ inputs.name }}"},
            }
        ],
        "edges": [],
    },
}


class TemplateCreate(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [TEMPLATE_EXAMPLE]})

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    graph: dict[str, Any]


class TemplateInstantiate(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"params": {"notify_url": "https://hooks.example.com/tickets"}},
                {"params": {"tone": "formal"}, "graph_id": "gr_3f9a1c2b7d4e", "version": 2},
            ]
        }
    )

    params: dict[str, Any] = Field(default_factory=dict)
    graph_id: str | None = Field(default=None, description="Add a version to this graph instead")
    version: int | None = Field(
        default=None, ge=1, le=MAX_VERSION, description="Template version; latest if unset"
    )
