"""The tenant's members: a person's account seen through their membership in the tenant.

People join through invitations (`api.schemas.invitations`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import AliasPath, BaseModel, ConfigDict, Field

from api.schemas import Body


class UserUpdate(Body):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"roles": ["admin"]}, {"is_active": False}]},
    )

    roles: list[str] | None = Field(default=None, min_length=1, max_length=20)
    is_active: bool | None = None


# Validated from a `services.users.Member`: the account (`user`) and its `membership`.
class UserRead(BaseModel):
    id: str = Field(validation_alias=AliasPath("user", "id"))
    email: str = Field(validation_alias=AliasPath("user", "email"))
    name: str = Field(validation_alias=AliasPath("user", "name"))
    roles: list[str] = Field(validation_alias=AliasPath("membership", "roles"))
    is_active: bool
    joined_at: datetime = Field(validation_alias=AliasPath("membership", "created_at"))


class UserList(BaseModel):
    items: list[UserRead]


class PasswordReset(Body):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{}, {"password": "a long passphrase nobody guesses"}]},
    )

    password: str | None = Field(
        default=None, max_length=1024, description="generated (and returned once) when omitted"
    )


class PasswordSet(BaseModel):
    sessions_ended: int = Field(description="the person's sign-in sessions ended, in every tenant")
    password: str | None = Field(
        default=None, description="shown once, only when the server generated it"
    )
