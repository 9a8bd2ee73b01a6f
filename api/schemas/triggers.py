"""Webhook triggers: a graph (and optionally a pinned version) started by signed deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AliasPath, BaseModel, ConfigDict, Field, field_validator

from api.schemas import Body
from api.schemas.hooks import SIGNATURE_HEADER

INPUTS_DESCRIPTION = (
    "Input name -> template over the delivery's `body`, `headers` (lower-case names) and "
    "`query`, e.g. `{{ body.issue.title }}`; omit it to use the JSON body as the inputs"
)
INPUTS_EXAMPLE: dict[str, Any] = {
    "ticket": "{{ body.issue.title }}",
    "event": "{{ headers['x-github-event'] }}",
}


class TriggerCreate(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "github issues", "graph_id": "gr_3f9a1c2b7d4e", "inputs": INPUTS_EXAMPLE},
                {
                    "name": "form posts",
                    "graph_id": "gr_3f9a1c2b7d4e",
                    "version": "2",
                    "enabled": False,
                },
            ]
        }
    )

    name: str = Field(min_length=1, max_length=200, examples=["github issues"])
    graph_id: str = Field(min_length=1, max_length=40)
    version: str | None = Field(
        default=None,
        max_length=80,
        description="Pin a version (id or number); unset: the graph's current version at delivery",
    )
    inputs: dict[str, Any] | None = Field(
        default=None, description=INPUTS_DESCRIPTION, examples=[INPUTS_EXAMPLE]
    )
    enabled: bool = True


class TriggerUpdate(Body):
    """Only the fields sent change; `version: null` unpins, `inputs: null` drops the mapping."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"enabled": False},
                {"version": None, "inputs": {"ticket": "{{ body.issue.body }}"}},
                {"name": "github issues (prod)", "graph_id": "gr_8b2e4d6f1a3c", "version": "1"},
            ]
        }
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    graph_id: str | None = Field(default=None, min_length=1, max_length=40)
    version: str | None = Field(default=None, max_length=80)
    inputs: dict[str, Any] | None = Field(default=None, description=INPUTS_DESCRIPTION)
    enabled: bool | None = None

    @field_validator("name", "graph_id", "enabled")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may not be null (leave it out to keep it)")
        return value


# Validated from a `services.triggers.Webhook`: the trigger row and its delivery URL.
class TriggerRead(BaseModel):
    id: str = Field(validation_alias=AliasPath("trigger", "id"))
    name: str = Field(validation_alias=AliasPath("trigger", "name"))
    graph_id: str = Field(validation_alias=AliasPath("trigger", "graph_id"))
    version_id: str | None = Field(
        validation_alias=AliasPath("trigger", "version_id"),
        description="The pinned version; None runs the current one",
    )
    inputs: dict[str, Any] | None = Field(validation_alias=AliasPath("trigger", "inputs"))
    enabled: bool = Field(validation_alias=AliasPath("trigger", "enabled"))
    url: str = Field(description="Where to POST signed deliveries")
    secret_rotated_at: datetime = Field(validation_alias=AliasPath("trigger", "secret_rotated_at"))
    created_by: str | None = Field(validation_alias=AliasPath("trigger", "created_by"))
    created_at: datetime = Field(validation_alias=AliasPath("trigger", "created_at"))
    updated_at: datetime = Field(validation_alias=AliasPath("trigger", "updated_at"))


# Validated from a `services.triggers.Webhook` whose signing secret was just issued.
class TriggerCreated(TriggerRead):
    secret: str = Field(
        description=f"The signing secret for {SIGNATURE_HEADER}; shown this once only"
    )


class TriggerList(BaseModel):
    items: list[TriggerRead]
