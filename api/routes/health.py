"""Process health, readiness (database and Temporal) and Prometheus metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import StateDep
from auterity import temporal
from auterity.db import check_database
from auterity.errors import DependencyUnavailable

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def read_health() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "database or Temporal is down"}})
async def read_readiness(state: StateDep) -> JSONResponse:
    """Database and Temporal, each checked and reported; 503 when either is down."""
    checks: dict[str, dict[str, str]] = {}
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
    ready = all(check["status"] == "ok" for check in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get("/metrics", include_in_schema=False)
async def read_metrics() -> Response:
    """Prometheus metrics of this process."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
