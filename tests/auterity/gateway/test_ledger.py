"""The budget ledger on the real database (SQLite and PostgreSQL): reservations, exactly-once
settlement, releases, expiry of a dead worker's reservation, and day/month windows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from auterity.db import transaction
from auterity.gateway.ledger import (
    BudgetExhausted,
    Ledger,
    LedgerKey,
    Settlement,
    window_start,
)
from auterity.models.gateway import Budget, BudgetWindow, LedgerEntry
from auterity.security.accounts import create_tenant

NOON = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOON

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def tenant(sessions: sessionmaker[Session]) -> tuple[str, str]:
    slug = f"ledger-{uuid.uuid4().hex[:10]}"
    with transaction(sessions) as session:
        return slug, create_tenant(session, slug).id


def _budget(
    sessions: sessionmaker[Session], tenant_id: str, nanos: int, *, period: str = "daily"
) -> str:
    with transaction(sessions, tenant_id) as session:
        row = Budget(name="b", period=period, limit_nanos=nanos, enforcement="hard")
        session.add(row)
        session.flush()
        return row.id


def _window(sessions: sessionmaker[Session], tenant_id: str, budget: str) -> tuple[int, int]:
    with transaction(sessions, tenant_id) as session:
        row = session.scalars(
            select(BudgetWindow)
            .where(BudgetWindow.budget_id == budget)
            .order_by(BudgetWindow.starts_at.desc())
        ).first()
        assert row is not None
        return row.spent_nanos, row.reserved_nanos


def _entries(sessions: sessionmaker[Session], tenant_id: str) -> list[LedgerEntry]:
    with transaction(sessions, tenant_id) as session:
        return list(session.scalars(select(LedgerEntry).order_by(LedgerEntry.attempt)))


def _key(slug: str, attempt: int = 1, run: str = "run-1") -> LedgerKey:
    return LedgerKey(slug, f"{slug}:g:1", run, "classify", attempt)


def _spent(nanos: int) -> Settlement:
    return Settlement(nanos, 10, 5, "openai/gpt-4o-mini", "fast#0")


async def test_settling_twice_charges_once(
    sessions: sessionmaker[Session], tenant: tuple[str, str]
) -> None:
    slug, tenant_id = tenant
    budget = _budget(sessions, tenant_id, 1000)
    ledger = Ledger(sessions)
    await ledger.reserve(_key(slug), graph_id="g", route="fast", nanos=400, ttl_seconds=60)
    assert _window(sessions, tenant_id, budget) == (0, 400)
    assert await ledger.settle(_key(slug), _spent(150)) is True
    assert await ledger.settle(_key(slug), _spent(150)) is False
    assert await ledger.release(_key(slug)) is False
    assert _window(sessions, tenant_id, budget) == (150, 0)
    [entry] = _entries(sessions, tenant_id)
    assert (entry.status, entry.cost_nanos, entry.model) == ("settled", 150, "openai/gpt-4o-mini")


async def test_a_redelivered_attempt_finds_its_own_reservation(
    sessions: sessionmaker[Session], tenant: tuple[str, str]
) -> None:
    slug, tenant_id = tenant
    budget = _budget(sessions, tenant_id, 1000)
    ledger = Ledger(sessions)
    first = await ledger.reserve(_key(slug), graph_id="g", route=None, nanos=400, ttl_seconds=60)
    again = await ledger.reserve(_key(slug), graph_id="g", route=None, nanos=400, ttl_seconds=60)
    assert again.entry_id == first.entry_id
    assert _window(sessions, tenant_id, budget) == (0, 400)
    await ledger.settle(_key(slug), _spent(100))
    replay = await ledger.reserve(_key(slug), graph_id="g", route=None, nanos=400, ttl_seconds=60)
    assert replay.already_settled and replay.entry_id == first.entry_id
    assert _window(sessions, tenant_id, budget) == (100, 0)


async def test_a_dead_workers_reservation_expires_and_frees_the_budget(
    sessions: sessionmaker[Session], tenant: tuple[str, str]
) -> None:
    slug, tenant_id = tenant
    budget = _budget(sessions, tenant_id, 1000)
    clock = Clock()
    ledger = Ledger(sessions, clock)
    other = LedgerKey(slug, f"{slug}:g:2", "run-9", "summarize", 1)
    await ledger.reserve(_key(slug, 1), graph_id="g", route=None, nanos=800, ttl_seconds=90)
    with pytest.raises(BudgetExhausted, match="budget 'b' is exhausted"):
        await ledger.reserve(other, graph_id="g", route=None, nanos=800, ttl_seconds=90)
    clock.now += timedelta(seconds=91)  # attempt 1's worker died, and nothing retried it
    await ledger.reserve(other, graph_id="g", route=None, nanos=800, ttl_seconds=90)
    await ledger.settle(other, _spent(300))
    statuses = [(e.node_id, e.attempt, e.status) for e in _entries(sessions, tenant_id)]
    assert sorted(statuses) == [("classify", 1, "expired"), ("summarize", 1, "settled")]
    assert _window(sessions, tenant_id, budget) == (300, 0)
    # The dead attempt's late settle still charges what it spent, once, and frees nothing twice.
    assert await ledger.settle(_key(slug, 1), _spent(200)) is True
    assert _window(sessions, tenant_id, budget) == (500, 0)


async def test_a_retry_takes_back_what_its_dead_attempt_held(
    sessions: sessionmaker[Session], tenant: tuple[str, str]
) -> None:
    """Temporal retries a killed attempt as soon as its timeout passes, long before its
    reservation expires: the retry of a call the budget admits once is admitted again."""
    slug, tenant_id = tenant
    budget = _budget(sessions, tenant_id, 1000)
    ledger = Ledger(sessions, Clock())
    await ledger.reserve(_key(slug, 1), graph_id="g", route=None, nanos=800, ttl_seconds=90)
    await ledger.reserve(_key(slug, 2), graph_id="g", route=None, nanos=800, ttl_seconds=90)
    assert _window(sessions, tenant_id, budget) == (0, 800)
    # Another run's call, or another node of this run, is not a retry: it takes nothing back.
    with pytest.raises(BudgetExhausted):
        await ledger.reserve(_key(slug, 3, run="run-2"), graph_id="g", route=None, nanos=800,
                             ttl_seconds=90)  # fmt: skip
    other_node = LedgerKey(slug, f"{slug}:g:1", "run-1", "summarize", 3)
    with pytest.raises(BudgetExhausted):
        await ledger.reserve(other_node, graph_id="g", route=None, nanos=800, ttl_seconds=90)
    await ledger.settle(_key(slug, 2), _spent(300))
    statuses = [(e.attempt, e.status) for e in _entries(sessions, tenant_id)]
    assert statuses == [(1, "expired"), (2, "settled")]
    assert _window(sessions, tenant_id, budget) == (300, 0)
    # Had the dead attempt's call answered after all, its late settle charges it, once.
    assert await ledger.settle(_key(slug, 1), _spent(200)) is True
    assert await ledger.settle(_key(slug, 1), _spent(200)) is False
    assert _window(sessions, tenant_id, budget) == (500, 0)


async def test_a_release_returns_the_reservation(
    sessions: sessionmaker[Session], tenant: tuple[str, str]
) -> None:
    slug, tenant_id = tenant
    budget = _budget(sessions, tenant_id, 1000)
    ledger = Ledger(sessions)
    await ledger.reserve(_key(slug), graph_id="g", route=None, nanos=999, ttl_seconds=60)
    assert await ledger.release(_key(slug)) is True
    assert await ledger.release(_key(slug)) is False
    assert _window(sessions, tenant_id, budget) == (0, 0)
    assert _entries(sessions, tenant_id)[0].status == "released"


async def test_windows_turn_over_by_day_and_month(
    sessions: sessionmaker[Session], tenant: tuple[str, str]
) -> None:
    slug, tenant_id = tenant
    budget = _budget(sessions, tenant_id, 1000, period="monthly")
    clock = Clock()
    ledger = Ledger(sessions, clock)
    await ledger.reserve(_key(slug, 1), graph_id="g", route=None, nanos=900, ttl_seconds=60)
    await ledger.settle(_key(slug, 1), _spent(900))
    with pytest.raises(BudgetExhausted):
        await ledger.reserve(_key(slug, 2), graph_id="g", route=None, nanos=900, ttl_seconds=60)
    clock.now = datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC)
    await ledger.reserve(_key(slug, 2), graph_id="g", route=None, nanos=900, ttl_seconds=60)
    assert _window(sessions, tenant_id, budget) == (0, 900)
    assert window_start("daily", NOON) == datetime(2026, 11, 30, tzinfo=UTC)
    assert window_start("monthly", NOON) == datetime(2026, 11, 1, tzinfo=UTC)


async def test_another_tenants_budget_does_not_count(
    sessions: sessionmaker[Session], tenant: tuple[str, str]
) -> None:
    slug, tenant_id = tenant
    other_slug = f"ledger-{uuid.uuid4().hex[:10]}"
    with transaction(sessions) as session:
        other_id = create_tenant(session, other_slug).id
    _budget(sessions, other_id, 1)  # would refuse anything, were it ours
    ledger = Ledger(sessions)
    await ledger.reserve(_key(slug), graph_id="g", route=None, nanos=500, ttl_seconds=60)
    assert await ledger.settle(_key(slug), _spent(500))
    assert [e.status for e in _entries(sessions, tenant_id)] == ["settled"]
    assert _entries(sessions, other_id) == []
