"""The response cache of routes that opt in (`cache_seconds`): Redis, keyed by tenant,
route and route version, and a digest of what was asked. A hit is a settled ledger entry
at zero cost."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Protocol

from redis.asyncio import Redis

PREFIX = "auterity:llm-cache"


class ResponseCache(Protocol):
    async def get(self, key: str) -> dict[str, Any] | None: ...

    async def put(self, key: str, value: Mapping[str, Any], seconds: int) -> None: ...


def cache_key(tenant_id: str, route: str, version: int, request: Mapping[str, Any]) -> str:
    """The key of one request to one version of a tenant's route; another tenant, route or
    version never shares it."""
    digest = hashlib.sha256(
        json.dumps(request, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    return f"{PREFIX}:{tenant_id}:{route}:{version}:{digest}"


class RedisResponseCache:
    def __init__(self, url: str) -> None:
        self.redis: Redis = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    async def get(self, key: str) -> dict[str, Any] | None:
        raw = await self.redis.get(key)
        return json.loads(raw) if raw is not None else None

    async def put(self, key: str, value: Mapping[str, Any], seconds: int) -> None:
        await self.redis.set(key, json.dumps(value), ex=seconds)

    async def aclose(self) -> None:
        await self.redis.aclose()
