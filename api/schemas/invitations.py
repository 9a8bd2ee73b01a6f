"""Invitations: a tenant's offer of a membership to an email address, accepted by the person."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import Body

InvitationStatus = Literal["pending", "accepted", "revoked", "expired"]


class InvitationCreate(Body):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"email": "grace@example.com", "roles": ["editor"]}]},
    )

    email: str = Field(min_length=3, max_length=320)
    roles: list[str] = Field(min_length=1, max_length=20)


class InvitationRead(BaseModel):
    id: str
    email: str
    roles: list[str]
    status: InvitationStatus
    created_at: datetime
    expires_at: datetime


class InvitationCreated(InvitationRead):
    """The same answer whether or not the address has an account anywhere."""

    token: str = Field(
        description="shown once: give it to the person, who accepts it signed in as that "
        "address (POST /v1/invitations/accept) or, without an account, with a password "
        "(POST /v1/invitations/accept-new)"
    )


class InvitationList(BaseModel):
    items: list[InvitationRead]


class InvitationAccept(Body):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"token": "ati_4bX2q9Lr0sVYtN1cW8mKfJzH3pQe6uDgA7oRiT5y"}]},
    )

    token: str = Field(min_length=1, max_length=200)


class InvitationAcceptNew(InvitationAccept):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "token": "ati_4bX2q9Lr0sVYtN1cW8mKfJzH3pQe6uDgA7oRiT5y",
                    "name": "Grace Hopper",
                    "password": "a long passphrase nobody guesses",
                }
            ]
        },
    )

    name: str = Field(default="", max_length=200)
    password: str = Field(min_length=1, max_length=1024)


class InvitationAccepted(BaseModel):
    tenant: str = Field(description="the slug of the tenant joined; sign in naming it")
    email: str
    roles: list[str]
    account_created: bool
