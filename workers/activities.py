"""The activity instances a worker registers, built with their dependencies."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any

import httpx

from auterity.db import make_engine, make_sessionmaker
from auterity.settings import Settings


class ActivityRuntime:
    """Owns what activities share (database engine, HTTP client) for the worker's lifetime."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = make_engine(settings.database_url_resolved)
        self.sessions = make_sessionmaker(self.engine)
        self.http = httpx.AsyncClient(follow_redirects=False)

    async def __aenter__(self) -> ActivityRuntime:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.http.aclose()
        self.engine.dispose()

    def activities(self) -> list[Callable[..., Any]]:
        """Every activity function, bound to this runtime's dependencies."""
        return []
