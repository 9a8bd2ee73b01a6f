"""Readiness: the database and Temporal, each checked and reported."""

from __future__ import annotations

import asyncio

from api.state import AppState
from auterity import temporal
from auterity.db import check_database
from auterity.errors import DependencyUnavailable

Checks = dict[str, dict[str, str]]


async def readiness(state: AppState) -> tuple[bool, Checks]:
    """Whether both are up, and each one's status ("ok" or "down" with a detail)."""
    checks: Checks = {}
    try:
        await asyncio.to_thread(check_database, state.engine)
        checks["database"] = {"status": "ok"}
    except DependencyUnavailable as exc:
        checks["database"] = {"status": "down", "detail": str(exc)}
    try:
        client = await state.temporal_client()
        await temporal.check_temporal(client)
        checks["temporal"] = {"status": "ok"}
    except DependencyUnavailable as exc:
        checks["temporal"] = {"status": "down", "detail": str(exc)}
    return all(check["status"] == "ok" for check in checks.values()), checks
