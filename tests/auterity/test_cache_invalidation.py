"""Commits drop cached entries: in this process at once, in others through PostgreSQL NOTIFY."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from auterity import cache
from auterity.bootstrap import create_tenant_with_audit
from auterity.db import make_engine, make_sessionmaker, transaction
from auterity.models.identity import Role
from auterity.settings import Settings, load_settings


@pytest.fixture
def tenant_id(sessions: sessionmaker[Session], tmp_path) -> str:  # type: ignore[no-untyped-def]
    settings = load_settings(home=tmp_path)
    return create_tenant_with_audit(sessions, settings, f"c-{uuid.uuid4().hex[:10]}").id


@pytest.fixture
def cached_sessions(database_url: str, tenant_id: str) -> Iterator[sessionmaker[Session]]:
    """A second 'process': its own engine and cache, listening on PostgreSQL (from after the
    tenant was made, so that commit's notification cannot race the test)."""
    engine = make_engine(Settings(database_url=database_url).database_url_resolved)
    factory = make_sessionmaker(engine, cache_seconds=60)
    shared = cache.of(factory)
    assert shared is not None
    listener = None
    if engine.dialect.name == "postgresql":
        listener = cache.Listener(engine.url, shared).start()
        assert shared.enabled, "the listener did not connect"
    yield factory
    if listener is not None:
        listener.stop()
    engine.dispose()


def warm(factory: sessionmaker[Session], tenant_id: str) -> cache.TenantCache:
    shared = cache.of(factory)
    assert shared is not None
    shared.put(tenant_id, "probe", "cached", shared.generation())
    assert shared.get(tenant_id, "probe") == "cached"
    return shared


def test_a_commit_that_touches_a_watched_row_drops_the_tenant_here(
    cached_sessions: sessionmaker[Session], tenant_id: str
) -> None:
    shared = warm(cached_sessions, tenant_id)
    with transaction(cached_sessions, tenant_id) as session:
        session.add(Role(name="auditor", permissions=["audit:read"]))
        assert shared.get(tenant_id, "probe") == "cached", "dropped before the commit"
    assert shared.get(tenant_id, "probe") is cache.MISSING


def test_bulk_updates_count_and_rollbacks_do_not(
    cached_sessions: sessionmaker[Session], tenant_id: str
) -> None:
    shared = warm(cached_sessions, tenant_id)
    with pytest.raises(RuntimeError), transaction(cached_sessions, tenant_id) as session:
        session.add(Role(name="rolled-back", permissions=[]))
        session.flush()
        raise RuntimeError("abandon")
    assert shared.get(tenant_id, "probe") == "cached"
    with transaction(cached_sessions, tenant_id) as session:
        session.execute(update(Role).values(description="bulk"))
    assert shared.get(tenant_id, "probe") is cache.MISSING


def test_a_change_committed_by_another_process_reaches_this_one(
    sessions: sessionmaker[Session],
    cached_sessions: sessionmaker[Session],
    tenant_id: str,
    database_engine_name: str,
) -> None:
    if database_engine_name != "postgresql":
        pytest.skip("other processes' changes reach a SQLite cache only by expiry")
    shared = warm(cached_sessions, tenant_id)
    with transaction(sessions, tenant_id) as session:  # the test's own engine: "another process"
        session.add(Role(name="remote", permissions=[]))
    deadline = time.monotonic() + 5
    while shared.get(tenant_id, "probe") is not cache.MISSING:
        assert time.monotonic() < deadline, "the other process's commit never arrived"
        time.sleep(0.01)


def test_a_cache_whose_listener_cannot_connect_stays_off(database_url: str) -> None:
    if not database_url.startswith("postgres"):
        pytest.skip("SQLite needs no listener")
    engine = make_engine(Settings(database_url=database_url).database_url_resolved)
    shared = cache.TenantCache(60, enabled=False)
    unreachable = engine.url.set(host="127.0.0.1", port=1)
    listener = cache.Listener(unreachable, shared, retry_seconds=0.05).start(wait=0.5)
    try:
        shared.put("t", "k", "v", shared.generation())
        assert not shared.enabled and shared.get("t", "k") is cache.MISSING
    finally:
        listener.stop()
        engine.dispose()
