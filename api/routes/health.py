"""Process health, readiness (database and Temporal) and Prometheus metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import SettingsDep, StateDep
from api.problems import NotFound, Unauthorized
from api.services import health as service

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def read_health() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "database or Temporal is down"}})
async def read_readiness(state: StateDep) -> JSONResponse:
    """Database and Temporal, each checked and reported; 503 when either is down."""
    ready, checks = await service.readiness(state)
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get("/metrics", include_in_schema=False)
async def read_metrics(
    settings: SettingsDep, authorization: Annotated[str | None, Header()] = None
) -> Response:
    """Prometheus metrics of this process; behind AUTERITY_METRICS_TOKEN when it is set, and
    off in production without it."""
    allowed = service.metrics_allowed(settings, authorization)
    if allowed is None:
        raise NotFound(
            "/metrics is off on this port in production: scrape AUTERITY_METRICS_PORT, "
            "or set AUTERITY_METRICS_TOKEN"
        )
    if not allowed:
        raise Unauthorized("send 'Authorization: Bearer <AUTERITY_METRICS_TOKEN>'")
    # off the event loop: the pending-task gauge reads the database
    return Response(await run_in_threadpool(generate_latest), media_type=CONTENT_TYPE_LATEST)
