"""Who is acting: a Principal (a user's session or an API key) and the Actor audit records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ActorType = Literal["user", "api_key", "system", "anonymous"]


@dataclass(frozen=True)
class Actor:
    """The actor an audit entry names."""

    type: ActorType
    id: str | None = None
    name: str | None = None

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls(type="system", id=None, name=name)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller inside one tenant, with its effective permissions."""

    kind: Literal["user", "api_key"]
    id: str
    name: str
    tenant_id: str
    tenant_slug: str
    permissions: frozenset[str]
    user_id: str | None = None
    session_id: str | None = None
    roles: tuple[str, ...] = field(default=())

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    @property
    def actor(self) -> Actor:
        return Actor(type=self.kind, id=self.id, name=self.name)
