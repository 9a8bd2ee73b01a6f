"""The tenant's members: a person's account seen through their membership in the tenant."""

from __future__ import annotations

from datetime import datetime

from pydantic import AliasPath, BaseModel, ConfigDict, Field

from api.schemas import Body


class UserCreate(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"email": "grace@example.com", "name": "Grace Hopper", "roles": ["editor"]},
                {
                    "email": "alan@example.com",
                    "name": "Alan Turing",
                    "roles": ["operator", "approver"],
                    "password": "a long passphrase nobody guesses",
                },
            ]
        },
    )

    email: str = Field(min_length=3, max_length=320)
    name: str = Field(default="", max_length=200)
    roles: list[str] = Field(min_length=1, max_length=20)
    password: str | None = Field(
        default=None,
        max_length=1024,
        description="for a new account; generated (and returned once) when omitted",
    )


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


# Validated from a `services.users.NewMember`.
class UserCreated(UserRead):
    account_created: bool
    initial_password: str | None = Field(
        default=None, description="shown once, only when the server generated it"
    )


class UserList(BaseModel):
    items: list[UserRead]
