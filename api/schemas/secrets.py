"""Tenant secrets: a value goes in and never comes out; reads show metadata only.

A secret is bound to the hosts it may be sent to (`allowed_hosts`, required in
production); the hosts are written with the value, so rebinding a secret takes
knowing it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.schemas import Body
from auterity import secrets as store


class SecretValue(Body):
    """What every write of a secret carries: the value, bounded, and a description."""

    value: str = Field(min_length=1, description="write-only")
    description: str | None = Field(default=None, max_length=2000)
    allowed_hosts: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Host names (`*.example.com` for the hosts under a domain) and addresses "
        "this secret may be sent to; nodes refuse to send it anywhere else. Required in "
        "production; omitted on a replace, the secret keeps the hosts it had",
    )

    @field_validator("value")
    @classmethod
    def _bounded(cls, value: str) -> str:
        if len(value.encode()) > store.MAX_VALUE_BYTES:
            raise ValueError(f"must be at most {store.MAX_VALUE_BYTES} bytes")
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, hosts: list[str] | None) -> list[str] | None:
        return store.normalize_hosts(hosts) if hosts is not None else None


class SecretCreate(SecretValue):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "SLACK_WEBHOOK_URL",
                    "value": "https://hooks.slack.com/services/T000/B000/XXXXXXXX",
                    "description": "Incoming webhook of #ops",
                    "allowed_hosts": ["hooks.slack.com"],
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
                {
                    "value": "https://hooks.slack.com/services/T000/B000/YYYYYYYY",
                    "allowed_hosts": ["hooks.slack.com"],
                },
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
    allowed_hosts: list[str] | None = Field(
        description="Where the secret may be sent; null: not bound (refused in production)"
    )
    created_by: str | None
    created_at: datetime
    updated_at: datetime


class SecretList(BaseModel):
    items: list[SecretRead]
