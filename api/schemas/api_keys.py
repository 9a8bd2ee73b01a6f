"""API keys: machine credentials scoped to permissions; the key itself is shown once."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, computed_field

from api.schemas import Body
from auterity.security.tokens import API_KEY_PREFIX


class ApiKeyCreate(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "ci deploys",
                    "scopes": ["graphs:read", "graphs:write", "executions:start"],
                    "expires_at": "2030-01-01T00:00:00Z",
                },
                {"name": "dashboard", "scopes": ["executions:read"]},
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    scopes: list[str] = Field(min_length=1, description="permissions; each must be yours")
    expires_at: AwareDatetime | None = Field(default=None, description="never expires if omitted")


# Validated from an `ApiKey` row (its secret is never stored, only its hash).
class ApiKeyRead(BaseModel):
    id: str
    name: str
    scopes: Annotated[list[str], AfterValidator(sorted)]
    created_by: str | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def prefix(self) -> str:
        """What a key starts with: enough to recognize it, not to use it."""
        return f"{API_KEY_PREFIX}{self.id}"


# An `ApiKeyRead` and the key itself, shown this once.
class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="`Authorization: Bearer <key>`; shown this once only")


class ApiKeyList(BaseModel):
    items: list[ApiKeyRead]
