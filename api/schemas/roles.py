"""Roles: the built-in ones and the tenant's custom roles, each a set of permissions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, computed_field

from api.schemas import Body
from auterity.security.permissions import BUILTIN_ROLES, PERMISSIONS


class RoleCreate(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "release-manager",
                    "description": "Runs and approves release graphs; reads the audit log.",
                    "permissions": [
                        "graphs:read",
                        "executions:read",
                        "executions:start",
                        "tasks:complete",
                        "audit:read",
                    ],
                }
            ]
        },
    )

    name: str = Field(min_length=2, max_length=63)
    description: str = Field(default="", max_length=2000)
    permissions: list[str] = Field(max_length=len(PERMISSIONS))


class RoleUpdate(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"permissions": ["graphs:read", "executions:read", "executions:start"]},
                {"description": "Starts release graphs."},
            ]
        },
    )

    description: str | None = Field(default=None, max_length=2000)
    permissions: list[str] | None = Field(default=None, max_length=len(PERMISSIONS))


# Validated from a `Role` row (built-in roles are unsaved `Role`s whose id is their name).
class RoleRead(BaseModel):
    id: str = Field(description="the name for a built-in role, a uuid for a custom one")
    name: str
    description: str
    permissions: Annotated[list[str], AfterValidator(sorted)]
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def builtin(self) -> bool:
        return self.id in BUILTIN_ROLES


class RoleList(BaseModel):
    items: list[RoleRead]
    permissions: list[str] = Field(description="every permission a role can hold")
