"""The registry of prompts and models: immutable versions, movable aliases."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.schemas import Body
from auterity.gateway.registry import ENTRY_NAME, ModelSpec, PromptSpec

PROMPT_EXAMPLE: dict[str, Any] = {
    "template": "Classify this ticket as urgent or normal: {{ ticket }}",
    "system": "Answer with one word.",
    "route": "fast",
    "temperature": 0,
    "max_tokens": 5,
}


def _entry_name(name: str) -> str:
    if not ENTRY_NAME.match(name):
        raise ValueError("must be a letter then letters, digits, '_', '.' or '-' (≤ 100)")
    return name


class PromptVersionCreate(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"spec": PROMPT_EXAMPLE}]})

    spec: PromptSpec


class PromptCreate(PromptVersionCreate):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "triage", "spec": PROMPT_EXAMPLE}]}
    )

    name: str = Field(description='What llm nodes name: {"prompt_ref": "<name>@<alias>"}')
    _name = field_validator("name")(_entry_name)


class ModelVersionCreate(Body):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"spec": {"route": "fast", "temperature": 0.2}}]}
    )

    spec: ModelSpec


class ModelCreate(ModelVersionCreate):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "classifier", "spec": {"route": "fast"}}]}
    )

    name: str
    _name = field_validator("name")(_entry_name)


class AliasUpdate(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"version": 3}]})

    version: int = Field(ge=1, le=2**31 - 1)


class RegistryVersionRead(BaseModel):
    version: int
    spec: dict[str, Any]
    created_by: str | None
    created_at: datetime


class RegistryEntryRead(BaseModel):
    id: str
    kind: str
    name: str
    versions: list[RegistryVersionRead]
    aliases: dict[str, int] = Field(description="Alias -> the version it names now")
    created_at: datetime


class RegistryEntryList(BaseModel):
    items: list[RegistryEntryRead]


CASE_KEY = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"


class PromptCompare(Body):
    """Two versions of a prompt on the same cases, run as one graph: results side by side."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "versions": ["production", "3"],
                    "cases": [{"ticket": "The site is down"}, {"ticket": "Typo on a page"}],
                }
            ]
        }
    )

    versions: list[str] = Field(
        min_length=2, max_length=2, description="Two versions or aliases (`3`, `production`)"
    )
    cases: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=20,
        description="The variables of each call, by name (each name a letter or _ then "
        "letters, digits or _)",
    )
    route: str | None = Field(default=None, min_length=1, max_length=100)


class PromptComparison(BaseModel):
    graph_id: str = Field(description="The comparison graph: open it to watch the run")
    execution_id: str = Field(description="Its run; the `results` node's output is the table")
    versions: list[int] = Field(description="The two versions, resolved now")
