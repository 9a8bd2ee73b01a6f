"""Fixtures on real parts: a Temporal dev server, SQLite and PostgreSQL, the app over HTTP."""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from auterity import migrate
from auterity.db import make_engine, make_sessionmaker
from auterity.dev import DEV_EGRESS_ALLOW
from auterity.graph import naming
from auterity.settings import Settings, load_settings
from tests.support import (
    forbid_database_on_the_event_loop,
    fresh_postgres_database,
    postgres_reachable,
    serve,
)

pytest_plugins = ["tests.servers"]

BIN = Path(sys.executable).parent
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _binary(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(BIN))
    if not found:
        pytest.exit(f"'{name}' is not installed: run `make test`, which installs it", returncode=3)
    return found


# --- Temporal -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """One real Temporal dev server for the whole session, search attributes registered."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=_binary("temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=naming.SEARCH_ATTRIBUTES,
        dev_server_log_level="error",
        dev_server_extra_args=naming.dev_server_arguments(),
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def temporal_client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture(scope="session")
def temporal_address(temporal_client: Client) -> str:
    return temporal_client.service_client.config.target_host


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server, for long waits and timeouts."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    yield env
    await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    """A fresh task queue per test, so tests never steal each other's tasks."""
    return f"test-{uuid.uuid4()}"


# --- Databases ----------------------------------------------------------------------------

ENGINES = ["sqlite", "postgresql"]


@pytest.fixture(scope="session", params=ENGINES)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated database per engine for the session; tests isolate by tenant."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'auterity.db'}"
        migrate.upgrade(url)
        yield url
        return
    if not postgres_reachable():
        if IN_CI:
            pytest.fail("PostgreSQL is not reachable, and the PostgreSQL leg is mandatory in CI")
        pytest.skip("PostgreSQL is not reachable (set AUTERITY_TEST_POSTGRES_URL)")
    with fresh_postgres_database() as url:
        migrate.upgrade(Settings(database_url=url).database_url_resolved)
        yield url


@pytest.fixture(scope="session")
def database_engine_name(database_url: str) -> str:
    return "postgresql" if database_url.startswith("postgres") else "sqlite"


@pytest.fixture(scope="session")
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(Settings(database_url=database_url).database_url_resolved)
    yield make_sessionmaker(engine)
    engine.dispose()


# --- The app over HTTP --------------------------------------------------------------------


@pytest.fixture(scope="session")
def settings(
    database_url: str, temporal_address: str, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    return load_settings(
        env="test",
        home=tmp_path_factory.mktemp("home"),
        database_url=database_url,
        temporal_address=temporal_address,
        task_queue=f"api-{uuid.uuid4()}",
        model_routes={"default": ["mock/echo"], "normal": ["mock/normal"]},
        egress_allow=DEV_EGRESS_ALLOW.split(","),
        sso_internal_hosts=["127.0.0.1"],  # the test IdPs listen on loopback
        stream_recheck_seconds=0.5,
    )


@pytest.fixture(scope="session")
def api_url(settings: Settings) -> Iterator[str]:
    """The real app served by uvicorn on a loopback port."""
    from api.main import create_app

    app = create_app(settings)
    forbid_database_on_the_event_loop(app.state.auterity.engine)
    with serve(app) as url:
        yield url


@pytest.fixture
async def api(api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
async def api_worker(settings: Settings, temporal_client: Client) -> AsyncIterator[None]:
    """A real worker on the API's task queue, with the production activity runtime."""
    from workers.activities import ActivityRuntime
    from workers.main import build_worker

    async with ActivityRuntime(settings) as runtime:
        worker = build_worker(temporal_client, settings, runtime.activities())
        async with worker:
            yield


@pytest.fixture
async def owner(api: httpx.AsyncClient, sessions: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    """An owner of a new tenant, signed in: (member, auth headers)."""
    from tests.factories import auth_headers, make_member

    member = make_member(sessions)
    return member, await auth_headers(api, member)
