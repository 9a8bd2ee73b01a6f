"""A tenant's model routes: a name the `llm` node uses -> deployments, strategy, fallbacks,
cooldowns and timeouts (`auterity.gateway.routes.RouteConfig`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from auterity.gateway.routes import ROUTE_NAME, RouteConfig

EXAMPLE: dict[str, Any] = {
    "deployments": [
        {
            "model": "openai/gpt-4o-mini",
            "api_key_secret": "OPENAI_KEY",
            "weight": 3,
            "rpm": 500,
        },
        {
            "model": "openai/llama3.1",
            "api_base": "http://10.0.0.5:11434/v1",
            "weight": 1,
            "input_cost_per_token": 0.0,
            "output_cost_per_token": 0.0,
        },
    ],
    "strategy": "simple-shuffle",
    "fallbacks": ["backup"],
    "allowed_fails": 3,
    "cooldown_seconds": 60,
    "timeout_seconds": 30,
}


class RouteUpdate(RouteConfig):
    """A route's whole configuration; saving it makes a new version."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE]})


class RouteCreate(RouteUpdate):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "fast", **EXAMPLE}]}
    )

    name: str = Field(description='What llm nodes name: {"route": "<name>"}')

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not ROUTE_NAME.match(name):
            raise ValueError("must be a letter then letters, digits, '_', '.' or '-' (≤ 100)")
        return name


class RouteRead(BaseModel):
    id: str
    name: str
    version: int
    config: RouteConfig
    created_by: str | None
    created_at: datetime
    updated_at: datetime


class RouteList(BaseModel):
    items: list[RouteRead]
    platform_routes: list[str] = Field(
        description="Routes every tenant has from the platform (AUTERITY_MODEL_ROUTES); a "
        "tenant route of the same name takes precedence"
    )
