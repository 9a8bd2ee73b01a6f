"""The audit trail over HTTP: what is recorded, filters, pages, export, verify, retention."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from unittest.mock import patch

import httpx
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from activities.audit import AuditActivities
from auterity import audit
from auterity.db import make_engine, make_sessionmaker, transaction
from auterity.graph.contracts import AuditRetentionInput
from auterity.models.audit import AuditEntry
from auterity.models.tenancy import Tenant
from auterity.secrets import bind_keyring, keyring
from auterity.security.clock import as_utc
from auterity.security.principal import Actor
from auterity.settings import Settings
from tests.api.conftest import Member, login
from workflows.maintenance import AuditRetentionWorkflow

MemberFactory = Callable[..., Awaitable[Member]]


async def _busy_tenant(api: httpx.AsyncClient, owner: Member) -> None:
    """Some audited activity: a role, a key, a secret, a revoked key."""
    headers = owner.headers
    await api.post(
        "/v1/roles", json={"name": "r1", "permissions": ["graphs:read"]}, headers=headers
    )
    key = await api.post(
        "/v1/api-keys", json={"name": "k", "scopes": ["graphs:read"]}, headers=headers
    )
    await api.delete(f"/v1/api-keys/{key.json()['id']}", headers=headers)
    await api.put("/v1/secrets/hook", json={"value": "https://hooks.example/abc"}, headers=headers)


async def test_mutations_logins_and_failures_are_recorded_with_context(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    owner = await member(make_tenant())
    await _busy_tenant(api, owner)
    await login(api, owner.email, "a wrong password")
    response = await api.get(
        "/v1/audit", params={"limit": 100}, headers={**owner.headers, "X-Request-ID": "req-42"}
    )
    assert response.status_code == 200, response.text
    entries = response.json()["items"]
    actions = [entry["action"] for entry in reversed(entries)]
    assert actions == [
        "tenants.created",
        "users.created",
        "users.added",
        "auth.login",
        "roles.created",
        "api_keys.created",
        "api_keys.revoked",
        "secrets.created",
        "auth.login",
    ]
    failed = entries[0]
    assert failed["outcome"] == "failure" and failed["details"]["reason"] == "invalid_credentials"
    assert failed["actor"] == {"type": "anonymous", "id": None, "name": owner.email}
    assert failed["context"]["ip"] == "127.0.0.1"
    created_key = next(e for e in entries if e["action"] == "api_keys.created")
    assert created_key["actor"] == {"type": "user", "id": owner.user_id, "name": owner.email}
    assert created_key["targets"][0]["type"] == "api_key"
    assert created_key["context"]["user_agent"].startswith("python-httpx")
    assert created_key["context"]["request_id"]
    assert [e["seq"] for e in entries] == sorted((e["seq"] for e in entries), reverse=True)


async def test_filters_and_cursor_pages(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    owner = await member(make_tenant())
    for index in range(5):
        await api.put(
            f"/v1/secrets/s{index}", json={"value": f"value-{index}"}, headers=owner.headers
        )
    pages, cursor = [], None
    while True:
        params: dict[str, str | int] = {"action": "secrets.*", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await api.get("/v1/audit", params=params, headers=owner.headers)).json()
        pages.append(
            [
                entry["target_id"] if False else entry["targets"][0]["name"]
                for entry in page["items"]
            ]
        )
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert pages == [["s4", "s3"], ["s2", "s1"], ["s0"]]
    by_actor = await api.get(
        "/v1/audit", params={"actor_id": owner.user_id, "outcome": "success"}, headers=owner.headers
    )
    assert {e["actor"]["id"] for e in by_actor.json()["items"]} == {owner.user_id}
    bad = await api.get("/v1/audit", params={"cursor": "%%%"}, headers=owner.headers)
    assert bad.status_code == 422
    future = await api.get(
        "/v1/audit", params={"since": "2999-01-01T00:00:00Z"}, headers=owner.headers
    )
    assert future.json()["items"] == []


async def test_export_is_json_lines_that_verify_outside_the_server(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    owner = await member(make_tenant())
    await _busy_tenant(api, owner)
    response = await api.get("/v1/audit/export", headers=owner.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    previous = audit.GENESIS
    for seq, line in enumerate(lines, start=1):
        assert line["seq"] == seq and line["prev_hash"] == previous
        body = {key: value for key, value in line.items() if key != "hash"}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert hashlib.sha256((previous + canonical).encode()).hexdigest() == line["hash"]
        previous = line["hash"]
    assert lines[-1]["action"] == "audit.exported"


async def test_editing_one_row_makes_verify_name_that_row(
    api: httpx.AsyncClient,
    make_tenant: Callable[..., str],
    member: MemberFactory,
    sessions: sessionmaker[Session],
) -> None:
    owner = await member(make_tenant())
    await _busy_tenant(api, owner)
    ok = await api.post("/v1/audit/verify", headers=owner.headers)
    assert ok.status_code == 200 and ok.json()["ok"] is True, ok.text
    assert ok.json()["entries"] >= 8
    with transaction(sessions, owner.tenant_id) as session:
        victim = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "api_keys.revoked")
        ).one()
        # someone with database access rewrites history (as the owner, not the app's role)
        session.execute(
            text("UPDATE audit_entries SET outcome = 'failure' WHERE id = :id"), {"id": victim.id}
        )
    broken = (await api.post("/v1/audit/verify", headers=owner.headers)).json()
    assert broken["ok"] is False
    assert broken["broken_entry_id"] == victim.id
    assert broken["broken_seq"] == victim.seq
    assert "hash" in broken["reason"]


async def test_deleting_a_row_is_detected_at_the_gap(
    api: httpx.AsyncClient,
    make_tenant: Callable[..., str],
    member: MemberFactory,
    sessions: sessionmaker[Session],
) -> None:
    owner = await member(make_tenant())
    await _busy_tenant(api, owner)
    with transaction(sessions, owner.tenant_id) as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
        gone, after = entries[3], entries[4]
        session.execute(text("DELETE FROM audit_entries WHERE id = :id"), {"id": gone.id})
    broken = (await api.post("/v1/audit/verify", headers=owner.headers)).json()
    assert broken["ok"] is False and broken["broken_entry_id"] == after.id
    assert "sequence gap" in broken["reason"]


async def test_retention_removes_old_entries_and_the_chain_still_verifies(
    api: httpx.AsyncClient,
    make_tenant: Callable[..., str],
    member: MemberFactory,
    sessions: sessionmaker[Session],
    settings: Settings,
) -> None:
    owner = await member(make_tenant())
    await _busy_tenant(api, owner)
    with transaction(sessions, owner.tenant_id) as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
        keep_from = entries[4]
        tenant = session.scalars(select(Tenant).where(Tenant.id == owner.tenant_id)).one()
        tenant.settings = {**tenant.settings, audit.RETENTION_SETTING: 1}
        # a day after the moment just before entry 5: entries 1-4 are past retention
        now = as_utc(keep_from.occurred_at) - timedelta(microseconds=1) + timedelta(days=1)
        deleted = audit.purge_expired(session, tenant, now)
        assert deleted == 4
        bind_keyring(session, keyring(settings))
        audit.record(
            session, Actor.system("retention"), "audit.purged", details={"deleted": deleted}
        )
    result = (await api.post("/v1/audit/verify", headers=owner.headers)).json()
    assert result["ok"] is True, result
    listed = (await api.get("/v1/audit", params={"limit": 500}, headers=owner.headers)).json()
    assert min(entry["seq"] for entry in listed["items"]) == keep_from.seq
    with transaction(sessions, owner.tenant_id) as session:
        tenant = session.scalars(select(Tenant).where(Tenant.id == owner.tenant_id)).one()
        assert audit.purge_expired(session, tenant, now) == 0  # nothing more is old enough


async def test_the_retention_workflow_purges_every_tenant_as_the_app_role(
    api: httpx.AsyncClient,
    make_tenant: Callable[..., str],
    member: MemberFactory,
    settings: Settings,
    temporal_client: Client,
    task_queue: str,
) -> None:
    owner = await member(make_tenant())
    await _busy_tenant(api, owner)
    engine = make_engine(settings.database_url_resolved)  # the app's own (non-owner) login
    app_sessions = make_sessionmaker(engine)
    with transaction(app_sessions, owner.tenant_id) as session:
        tenant = session.scalars(select(Tenant).where(Tenant.id == owner.tenant_id)).one()
        tenant.settings = {**tenant.settings, audit.RETENTION_SETTING: 1}
        # turn the clock: re-date nothing (that would break the chain), run "tomorrow" instead
    activities = AuditActivities(app_sessions, settings)
    tomorrow = datetime.now(UTC) + timedelta(days=2)
    with patch("activities.audit.datetime") as clock:
        clock.now.return_value = tomorrow
        async with Worker(
            temporal_client,
            task_queue=task_queue,
            workflows=[AuditRetentionWorkflow],
            activities=[activities.purge_expired],
        ):
            result = await temporal_client.execute_workflow(
                AuditRetentionWorkflow.run,
                AuditRetentionInput(tenant=owner.tenant_slug),
                id=f"_system:audit-retention-test-{uuid.uuid4().hex}",
                task_queue=task_queue,
            )
    engine.dispose()
    assert result.tenants == 1 and result.deleted >= 8 and result.refused == []
    verified = (await api.post("/v1/audit/verify", headers=owner.headers)).json()
    assert verified["ok"] is True, verified
    assert verified["entries"] == 1  # only the "audit.purged" entry is left
    purged = (await api.get("/v1/audit", headers=owner.headers)).json()["items"]
    assert purged[-1]["action"] == "audit.purged"
    assert purged[-1]["details"]["deleted"] == result.deleted
