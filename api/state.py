"""What the app holds for its lifetime: settings, database, Temporal client."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from auterity import audit, temporal
from auterity.errors import DependencyUnavailable
from auterity.settings import Settings


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    audit_writer: audit.Writer
    _client: Client | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def temporal_client(self) -> Client:
        """The shared client, connected on first use so the API starts without Temporal."""
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                self._client = await temporal.connect(self.settings, timeout=3)
        return self._client

    async def temporal_or_none(self) -> Client | None:
        try:
            return await self.temporal_client()
        except DependencyUnavailable:
            return None
