"""Budgets and spend over the API: validated, audited, per tenant; spend sums the ledger."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.orm import Session, sessionmaker

from auterity.db import transaction
from auterity.gateway.ledger import Ledger, LedgerKey
from auterity.gateway.routes import NANOS_PER_USD
from auterity.models.gateway import LedgerEntry
from tests.api.conftest import Member, TwoTenants
from tests.support import metric

MemberFactory = Callable[..., Awaitable[Member]]
DAY = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


async def test_a_budget_is_saved_shown_in_usd_and_audited(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    owner = await member(make_tenant())
    headers = owner.headers
    created = await api.post(
        "/v1/budgets",
        json={"name": "monthly", "limit_usd": "12.5", "period": "monthly", "route": "default"},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    budget = created.json()
    assert budget["limit_usd"] == "12.5" and budget["enforcement"] == "hard"
    assert budget["spent_usd"] == "0" and budget["window_start"].endswith("-01T00:00:00Z")
    updated = await api.put(
        f"/v1/budgets/{budget['id']}",
        json={"limit_usd": "3", "period": "daily", "enforcement": "warn"},
        headers=headers,
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["enforcement"] == "warn" and updated.json()["route"] is None
    duplicate = await api.post(
        "/v1/budgets", json={"name": "monthly", "limit_usd": "1"}, headers=headers
    )
    assert duplicate.status_code == 409
    assert (await api.delete(f"/v1/budgets/{budget['id']}", headers=headers)).status_code == 204
    entries = (await api.get("/v1/audit", params={"limit": 50}, headers=headers)).json()["items"]
    assert {"budgets.created", "budgets.updated", "budgets.deleted"} <= {
        e["action"] for e in entries
    }


async def test_bad_budgets_are_422s_naming_the_field(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    owner = await member(make_tenant())
    cases = [
        ({"name": "b", "limit_usd": "0"}, ["body", "limit_usd"]),
        ({"name": "b", "limit_usd": "-3"}, ["body", "limit_usd"]),
        ({"name": "b", "limit_usd": "1", "period": "weekly"}, ["body", "period"]),
        ({"name": "b", "limit_usd": "1", "enforcement": "soft"}, ["body", "enforcement"]),
        ({"name": "b", "limit_usd": "1", "graph_id": "g_nope"}, ["body", "graph_id"]),
        ({"name": "b", "limit_usd": "1", "route": "ghost"}, ["body", "route"]),
        ({"name": "b", "limit_usd": "1", "extra": 1}, ["body", "extra"]),
        ({"name": "b", "limit_usd": "0.0000000001"}, ["body", "limit_usd"]),
    ]
    for body, loc in cases:
        response = await api.post("/v1/budgets", json=body, headers=owner.headers)
        assert response.status_code == 422, (body, response.text)
        assert any(e["loc"] == loc for e in response.json()["errors"]), response.json()


async def test_a_tenant_cannot_read_change_or_scope_to_another_tenants_budget_or_graph(
    api: httpx.AsyncClient, two_tenants: TwoTenants
) -> None:
    a, b = two_tenants.a, two_tenants.b
    theirs = await api.post("/v1/budgets", json={"name": "b", "limit_usd": "1"}, headers=b.headers)
    budget_id = theirs.json()["id"]
    assert (await api.get(f"/v1/budgets/{budget_id}", headers=a.headers)).status_code == 404
    put = await api.put(f"/v1/budgets/{budget_id}", json={"limit_usd": "99"}, headers=a.headers)
    assert put.status_code == 404
    assert (await api.delete(f"/v1/budgets/{budget_id}", headers=a.headers)).status_code == 404
    assert (await api.get("/v1/budgets", headers=a.headers)).json()["items"] == []
    graph = {"name": "g", "nodes": [{"id": "t", "type": "transform", "config": {"value": "1"}}],
             "edges": []}  # fmt: skip
    graph_id = (await api.post("/v1/graphs", json=graph, headers=b.headers)).json()["id"]
    scoped = await api.post(
        "/v1/budgets", json={"name": "x", "limit_usd": "1", "graph_id": graph_id},
        headers=a.headers,
    )  # fmt: skip
    assert scoped.status_code == 422 and "unknown graph" in scoped.text
    assert (await api.get(f"/v1/budgets/{budget_id}", headers=b.headers)).json()["limit_usd"] == "1"


async def test_spend_sums_settled_calls_by_the_asked_dimensions(
    api: httpx.AsyncClient,
    two_tenants: TwoTenants,
    sessions: sessionmaker[Session],
) -> None:
    a, b = two_tenants.a, two_tenants.b
    rows = [
        ("g1", "classify", "fast", "openai/gpt-4o-mini", 1000, DAY),
        ("g1", "classify", "fast", "openai/gpt-4o-mini", 3000, DAY),
        ("g1", "summarize", "fast", "openai/gpt-4o-mini", 500, DAY + timedelta(days=1)),
        ("g2", "ask", "local", "openai/llama", None, DAY),
    ]
    with transaction(sessions, a.tenant_id) as session:
        for index, (graph, node, route, model, cost, when) in enumerate(rows):
            session.add(_entry(index, graph, node, route, model, cost, when, "settled"))
        session.add(_entry(9, "g1", "classify", "fast", "x/y", 10**9, DAY, "reserved"))
    with transaction(sessions, b.tenant_id) as session:
        session.add(
            _entry(0, "g1", "classify", "fast", "openai/gpt-4o-mini", 10**12, DAY, "settled")
        )

    by_graph_node = await api.get(
        "/v1/spend", params=[("group_by", "graph"), ("group_by", "node")], headers=a.headers
    )
    assert by_graph_node.status_code == 200, by_graph_node.text
    report = by_graph_node.json()
    assert report["tenant"] == a.tenant_slug and report["group_by"] == ["graph", "node"]
    summary = {(r["graph"], r["node"]): (r["calls"], r["cost_usd"], r["unpriced_calls"])
               for r in report["items"]}  # fmt: skip
    assert summary == {
        ("g1", "classify"): (2, "0.000004", 0),
        ("g1", "summarize"): (1, "0.0000005", 0),
        ("g2", "ask"): (1, "0", 1),
    }
    by_day = (await api.get("/v1/spend", params={"group_by": "day"}, headers=a.headers)).json()
    assert [(r["day"], r["calls"]) for r in by_day["items"]] == [
        ("2026-11-29", 3), ("2026-11-30", 1)
    ]  # fmt: skip
    by_model = await api.get(
        "/v1/spend",
        params={"group_by": "model", "since": "2026-11-30", "until": "2026-11-30"},
        headers=a.headers,
    )
    assert [(r["model"], r["prompt_tokens"]) for r in by_model.json()["items"]] == [
        ("openai/gpt-4o-mini", 10)
    ]
    bad = await api.get("/v1/spend", params={"group_by": "colour"}, headers=a.headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"][:2] == ["query", "group_by"]
    reversed_range = await api.get(
        "/v1/spend", params={"since": "2026-12-02", "until": "2026-12-01"}, headers=a.headers
    )
    assert reversed_range.status_code == 422


def _entry(
    attempt: int,
    graph: str,
    node: str,
    route: str,
    model: str,
    cost: int | None,
    when: datetime,
    status: str,
) -> LedgerEntry:
    return LedgerEntry(
        workflow_id=f"wf-{graph}", run_id="r", node_id=node, attempt=attempt, graph_id=graph,
        route=route, model=model, deployment=f"{route}#0", status=status, reserved_nanos=0,
        cost_nanos=cost, cost_known=cost is not None, cached=False, prompt_tokens=10,
        completion_tokens=5, windows=[], expires_at=when, created_at=when,
        settled_at=when if status == "settled" else None,
    )  # fmt: skip


async def test_budget_gauges_show_each_budgets_limit_and_spend_so_far(
    api: httpx.AsyncClient, two_tenants: TwoTenants, sessions: sessionmaker[Session]
) -> None:
    """What the budget-burn alerts read: settled plus reserved against the limit, per tenant
    and budget, read tenant by tenant at each scrape (row-level security holds)."""
    a, b = two_tenants.a, two_tenants.b
    for member, limit in ((a, "12.5"), (b, "3")):
        created = await api.post(
            "/v1/budgets", json={"name": "monthly", "limit_usd": limit}, headers=member.headers
        )
        assert created.status_code == 201, created.text
    key = LedgerKey(tenant=a.tenant_slug, workflow_id=f"{a.tenant_slug}:g:1", run_id="r1",
                    node_id="ask", attempt=1)  # fmt: skip
    await Ledger(sessions).reserve(
        key, graph_id=None, route=None, nanos=2 * NANOS_PER_USD, ttl_seconds=60
    )
    labels_a = {"tenant": a.tenant_slug, "budget": "monthly"}
    labels_b = {"tenant": b.tenant_slug, "budget": "monthly"}
    assert await metric(api, "auterity_budget_limit_usd", **labels_a) == 12.5
    assert await metric(api, "auterity_budget_spend_usd", **labels_a) == 2.0
    assert await metric(api, "auterity_budget_limit_usd", **labels_b) == 3.0
    assert await metric(api, "auterity_budget_spend_usd", **labels_b) == 0.0
    await Ledger(sessions).release(key)
    assert await metric(api, "auterity_budget_spend_usd", **labels_a) == 0.0
