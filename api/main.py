"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.builder import builder_dir, install_builder
from api.logs import install_log_redaction
from api.middleware import RequestLimits
from api.problems import install_problem_handlers
from api.routes import docs, health, include_v1
from api.state import AppState
from auterity import __version__, audit, cache, metrics, telemetry
from auterity.audit import Writer as AuditWriter
from auterity.db import make_engine, make_sessionmaker
from auterity.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    install_log_redaction()
    audit.use_settings(settings)
    engine = make_engine(
        settings.database_url_resolved, sqlite_wait_seconds=settings.sqlite_wait_seconds
    )
    telemetry.instrument_engine(engine)
    sessions = make_sessionmaker(engine, cache_seconds=settings.cache_seconds)
    metrics.serve_gauges_from(sessions)
    state = AppState(
        settings=settings, engine=engine, sessions=sessions, audit_writer=AuditWriter(engine)
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        listener = None
        shared = cache.of(sessions)
        if engine.dialect.name == "postgresql" and shared is not None and shared.ttl > 0:
            listener = await asyncio.to_thread(cache.Listener(engine.url, shared).start)
        yield
        await state.audit_writer.aclose()
        if listener is not None:
            await asyncio.to_thread(listener.stop)
        engine.dispose()

    app = FastAPI(
        title="Auterity",
        version=__version__,
        description="Durable workflow automation on Temporal.",
        lifespan=lifespan,
        docs_url=None,  # served by api.routes.docs, assets included: no CDN
        redoc_url=None,
    )
    app.state.auterity = state
    app.add_middleware(RequestLimits, max_body_bytes=settings.max_body_bytes)
    install_problem_handlers(app)
    include_v1(app)  # first: the busiest paths are matched before health and docs
    app.include_router(health.router)
    app.include_router(docs.router)
    app.mount(docs.ASSETS_PATH, StaticFiles(directory=docs.assets_dir()), name="docs-assets")
    install_builder(app, builder_dir(settings.web_dir))
    telemetry.instrument_app(app)
    return app
