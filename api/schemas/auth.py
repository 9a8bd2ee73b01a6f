"""Signing in: a password or a refresh token for a token pair; the caller's own identity."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, AliasPath, BaseModel, ConfigDict, Field

from api.schemas import Body
from auterity.security.tokens import ACCESS_TOKEN_TTL


class LoginBody(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"email": "ada@example.com", "password": "correct horse battery staple"},
                {
                    "email": "ada@example.com",
                    "password": "correct horse battery staple",
                    "tenant": "acme",
                },
            ]
        },
    )

    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    tenant: str | None = Field(default=None, max_length=63, description="tenant slug")


class RefreshBody(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"refresh_token": "art_4bX2q9Lr0sVYtN1cW8mKfJzH3pQe6uDgA7oRiT5yBvE"}]
        },
    )

    refresh_token: str = Field(min_length=1, max_length=200)


class TokenPair(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c3JfMSJ9.c2ln",
                    "refresh_token": "art_4bX2q9Lr0sVYtN1cW8mKfJzH3pQe6uDgA7oRiT5yBvE",
                    "token_type": "bearer",
                    "expires_in": int(ACCESS_TOKEN_TTL.total_seconds()),
                    "tenant": "acme",
                }
            ]
        }
    )

    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int = int(ACCESS_TOKEN_TTL.total_seconds())
    tenant: str


# Validated from a `Tenant` row.
class TenantRead(BaseModel):
    id: str
    slug: str
    name: str


# Validated from a `services.auth.Caller`: the principal and its tenant.
class MeRead(BaseModel):
    kind: str = Field(validation_alias=AliasPath("principal", "kind"))
    id: str = Field(validation_alias=AliasPath("principal", "id"))
    name: str = Field(validation_alias=AliasPath("principal", "name"))
    user_id: str | None = Field(validation_alias=AliasPath("principal", "user_id"))
    tenant: TenantRead
    roles: list[str] = Field(validation_alias=AliasPath("principal", "roles"))
    permissions: Annotated[list[str], AfterValidator(sorted)] = Field(
        validation_alias=AliasPath("principal", "permissions")
    )


class PasswordChange(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "current_password": "correct horse battery staple",
                    "new_password": "a longer passphrase nobody guesses",
                }
            ]
        },
    )

    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)
