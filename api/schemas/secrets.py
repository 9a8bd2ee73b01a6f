"""Tenant secrets: a value goes in and never comes out; reads show metadata only."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.schemas import Body
from auterity import secrets as store


class SecretValue(Body):
    """What every write of a secret carries: the value, bounded, and a description."""

    value: str = Field(min_length=1, description="write-only")
    description: str | None = Field(default=None, max_length=2000)

    @field_validator("value")
    @classmethod
    def _bounded(cls, value: str) -> str:
        if len(value.encode()) > store.MAX_VALUE_BYTES:
            raise ValueError(f"must be at most {store.MAX_VALUE_BYTES} bytes")
        return value


class SecretCreate(SecretValue):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "SLACK_WEBHOOK_URL",
                    "value": "https://hooks.slack.com/services/T000/B000/XXXXXXXX",
                    "description": "Incoming webhook of #ops",
                }
            ]
        }
    )

    name: str = Field(description="referenced in graphs as {{ secrets.<name> }}")

    @field_validator("name")
    @classmethod
    def _identifier(cls, name: str) -> str:
        if not store.SECRET_NAME.match(name):
            raise ValueError("must be a letter or '_' then letters, digits or '_' (≤ 128)")
        return name


class SecretUpdate(SecretValue):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"value": "https://hooks.slack.com/services/T000/B000/YYYYYYYY"},
                {"value": "sk-live-rotated-2f9c", "description": "Rotated by the on-call"},
            ]
        }
    )


# Validated from a `Secret` row; its sealed value is not a field.
class SecretRead(BaseModel):
    id: str
    name: str
    description: str
    version: int
    created_by: str | None
    created_at: datetime
    updated_at: datetime


class SecretList(BaseModel):
    items: list[SecretRead]
