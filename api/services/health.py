"""Readiness: the database and Temporal, each checked and reported."""

from __future__ import annotations

import asyncio
import hmac
import logging

from api.state import AppState
from auterity import temporal
from auterity.db import check_database
from auterity.errors import DependencyUnavailable
from auterity.settings import Settings

log = logging.getLogger("auterity.health")

Checks = dict[str, dict[str, str]]
# What a probe sees when a dependency is down: the setting to look at, never a host or
# address (anyone who can reach /readyz would learn the network's layout). The reason
# with its details goes to the API's log.
DOWN = {
    "database": "unreachable: check AUTERITY_DATABASE_URL (details in the API's log)",
    "temporal": "unreachable: check AUTERITY_TEMPORAL_ADDRESS (details in the API's log)",
}


async def readiness(state: AppState) -> tuple[bool, Checks]:
    """Whether both are up, and each one's status ("ok" or "down" with a detail)."""
    checks: Checks = {}
    try:
        await asyncio.to_thread(check_database, state.engine)
        checks["database"] = {"status": "ok"}
    except DependencyUnavailable as exc:
        log.warning("readiness: %s", exc)
        checks["database"] = {"status": "down", "detail": DOWN["database"]}
    try:
        client = await state.temporal_client()
        await temporal.check_temporal(client)
        checks["temporal"] = {"status": "ok"}
    except DependencyUnavailable as exc:
        log.warning("readiness: %s", exc)
        checks["temporal"] = {"status": "down", "detail": DOWN["temporal"]}
    return all(check["status"] == "ok" for check in checks.values()), checks


def metrics_allowed(settings: Settings, authorization: str | None) -> bool | None:
    """Whether a scrape may read /metrics: True, False (wrong or missing token: 401), or None
    (production without AUTERITY_METRICS_TOKEN: /metrics is off, 404)."""
    if settings.metrics_token is None:
        return None if settings.env == "production" else True
    scheme, _, token = (authorization or "").partition(" ")
    expected = settings.metrics_token.get_secret_value()
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip(), expected)
