"""Graphs: the definition a client sends, a graph at one of its versions, validation results."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import fastapi
from pydantic import AliasPath, BaseModel, Field

GRAPH_EXAMPLE = {
    "name": "hello",
    "inputs": {"type": "object", "properties": {"name": {"type": "string"}}},
    "nodes": [
        {"id": "greet", "type": "transform", "config": {"value": "Hello {{ inputs.name }}"}},
    ],
    "edges": [],
}
# A graph is JSON in React Flow's shape, checked by the graph language rather than a model.
GraphDefinition = Annotated[dict[str, Any], fastapi.Body(examples=[GRAPH_EXAMPLE])]


# Validated from a `services.graphs.SavedVersion`: the graph and one of its versions.
class GraphRead(BaseModel):
    id: str = Field(validation_alias=AliasPath("graph", "id"))
    name: str = Field(validation_alias=AliasPath("graph", "name"))
    description: str | None = Field(validation_alias=AliasPath("graph", "description"))
    version_id: str = Field(validation_alias=AliasPath("version", "version_id"))
    version: int = Field(validation_alias=AliasPath("version", "number"))
    versions: int = Field(validation_alias=AliasPath("graph", "version_count"))
    created_at: datetime = Field(validation_alias=AliasPath("graph", "created_at"))
    updated_at: datetime = Field(validation_alias=AliasPath("graph", "updated_at"))
    created_by: str | None = Field(validation_alias=AliasPath("graph", "created_by"))
    definition: dict[str, Any] | None = Field(
        default=None, validation_alias=AliasPath("version", "definition")
    )
    created: bool | None = Field(
        default=None, description="On save: whether a new version was made"
    )


class GraphVersionRead(BaseModel):
    graph_id: str
    version_id: str
    number: int
    created_at: datetime
    created_by: str | None
    definition: dict[str, Any] | None = None


class ValidationResult(BaseModel):
    valid: bool
    version_id: str
    nodes: int
    order: list[str]
