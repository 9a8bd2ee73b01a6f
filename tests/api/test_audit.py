"""The audit trail over HTTP: what is recorded, filters, pages, export, verify, retention."""

from __future__ import annotations

import hashlib
import hmac
import json
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from activities.audit import AuditActivities
from auterity import audit, temporal
from auterity.audit.append import append
from auterity.db import make_engine, make_sessionmaker, transaction
from auterity.graph.contracts import AuditRetentionInput
from auterity.models.audit import AuditEntry
from auterity.models.tenancy import Tenant
from auterity.secrets import bind_keyring, keyring
from auterity.security.accounts import create_tenant
from auterity.security.crypto import KeyRing
from auterity.security.principal import Actor
from auterity.security.scoping import set_tenant
from auterity.settings import Settings
from tests.api.conftest import Member, login
from tests.support import free_port, metric
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
    api: httpx.AsyncClient,
    make_tenant: Callable[..., str],
    member: MemberFactory,
    settings: Settings,
) -> None:
    owner = await member(make_tenant())
    await _busy_tenant(api, owner)
    response = await api.get("/v1/audit/export", headers=owner.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    ring = KeyRing.from_settings(settings, audit.CHAIN_PURPOSE)
    previous = audit.GENESIS
    for seq, line in enumerate(lines, start=1):
        assert line["seq"] == seq and line["prev_hash"] == previous
        assert line["key_id"] == ring.current_id  # keyed: the secret key is needed to check it
        body = {key: value for key, value in line.items() if key != "hash"}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        message = (previous + canonical).encode()
        assert hmac.new(ring.current, message, hashlib.sha256).hexdigest() == line["hash"]
        assert hashlib.sha256(message).hexdigest() != line["hash"]
        previous = line["hash"]
    assert lines[-1]["action"] == "audit.exported"


async def test_recomputing_the_chain_without_the_key_is_detected(
    api: httpx.AsyncClient,
    make_tenant: Callable[..., str],
    member: MemberFactory,
    sessions: sessionmaker[Session],
) -> None:
    """Attack: with database access (as the tables' owner), rewrite an entry and recompute
    every later link as the unkeyed chain did (sha256, key_id dropped). The chain is keyed
    now, so the rewrite is found at the first rewritten entry."""
    owner = await member(make_tenant())
    await _busy_tenant(api, owner)
    with transaction(sessions, owner.tenant_id) as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
        victim = next(row for row in rows if row.action == "api_keys.revoked")
        previous = next(row.hash for row in rows if row.seq == victim.seq - 1)
        for row in rows:
            if row.seq < victim.seq:
                continue
            values = {c: getattr(row, c) for c in audit.chain._DOCUMENT_COLUMNS}
            values |= {"prev_hash": previous, "key_id": None}
            if row.id == victim.id:
                values["outcome"] = "failure"
            forged = audit.chain.row_hash(values)
            session.execute(
                text("UPDATE audit_entries SET outcome = :o, prev_hash = :p, hash = :h, "
                     "key_id = NULL WHERE id = :id"),
                {"o": values["outcome"], "p": previous, "h": forged, "id": row.id},
            )  # fmt: skip
            previous = forged
        session.execute(
            text("UPDATE audit_heads SET last_hash = :h WHERE tenant_id = :t"),
            {"h": previous, "t": owner.tenant_id},
        )
    broken = (await api.post("/v1/audit/verify", headers=owner.headers)).json()
    assert broken["ok"] is False and broken["broken_entry_id"] == victim.id, broken
    assert "not keyed" in broken["reason"]


async def test_a_removed_end_is_found_against_a_checkpoint(
    api: httpx.AsyncClient,
    make_tenant: Callable[..., str],
    member: MemberFactory,
    sessions: sessionmaker[Session],
) -> None:
    """Attack: remove the last entries and move the head back to match: the chain alone
    still verifies, a signed checkpoint exported before does not."""
    owner = await member(make_tenant())
    await _busy_tenant(api, owner)
    checkpoint = (await api.get("/v1/audit/checkpoint", headers=owner.headers)).json()
    assert checkpoint["tenant_id"] == owner.tenant_id and checkpoint["seq"] >= 8
    fine = await api.post(
        "/v1/audit/verify", json={"checkpoints": [checkpoint]}, headers=owner.headers
    )
    assert fine.status_code == 200 and fine.json()["ok"] is True, fine.text
    with transaction(sessions, owner.tenant_id) as session:
        keep = checkpoint["seq"] - 3
        last = session.scalars(select(AuditEntry).where(AuditEntry.seq == keep)).one()
        session.execute(
            text("DELETE FROM audit_entries WHERE tenant_id = :t AND seq > :s"),
            {"t": owner.tenant_id, "s": keep},
        )
        session.execute(
            text("UPDATE audit_heads SET last_seq = :s, last_hash = :h WHERE tenant_id = :t"),
            {"s": keep, "h": last.hash, "t": owner.tenant_id},
        )
    alone = (await api.post("/v1/audit/verify", headers=owner.headers)).json()
    assert alone["ok"] is True  # nothing in the database says the end is gone
    against = await api.post(
        "/v1/audit/verify", json={"checkpoints": [checkpoint]}, headers=owner.headers
    )
    assert against.json()["ok"] is False and "removed" in against.json()["reason"]
    forged = {**checkpoint, "seq": keep}
    refused = await api.post(
        "/v1/audit/verify", json={"checkpoints": [forged]}, headers=owner.headers
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["loc"] == ["body", "checkpoints", 0]


async def test_the_app_login_cannot_rewrite_or_delete_the_trail(
    api: httpx.AsyncClient,
    make_tenant: Callable[..., str],
    member: MemberFactory,
    settings: Settings,
    database_engine_name: str,
) -> None:
    """Attack: with the app's own database login (what a SQL injection would get), update
    or delete entries, move the anchor, or purge entries still within retention."""
    if database_engine_name != "postgresql":
        pytest.skip("privileges are PostgreSQL's; SQLite has one login")
    owner = await member(make_tenant())
    await _busy_tenant(api, owner)
    engine = make_engine(settings.database_url_resolved)  # the app's (non-owner) login
    try:
        for statement in (
            "UPDATE audit_entries SET outcome = 'failure'",
            "DELETE FROM audit_entries",
            "UPDATE audit_heads SET anchor_seq = 5",
            "UPDATE audit_heads SET keyed_from_seq = 1000",
            "DELETE FROM audit_heads",
        ):
            with (
                pytest.raises(ProgrammingError, match="permission denied"),
                engine.connect() as connection,
                connection.begin(),
            ):
                connection.execute(
                    text("SELECT set_config('app.tenant_id', :t, true)"),
                    {"t": owner.tenant_id},
                )
                connection.execute(text(statement))
        with engine.connect() as connection, connection.begin():
            purged = connection.execute(
                text("SELECT auterity_audit_purge(:t, 1000000)"), {"t": owner.tenant_id}
            ).scalar_one()
        assert purged == 0  # nothing is past the tenant's retention
    finally:
        engine.dispose()
    verified = (await api.post("/v1/audit/verify", headers=owner.headers)).json()
    assert verified["ok"] is True and verified["entries"] >= 8


def test_verify_keeps_nothing_while_it_walks(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    """`POST /v1/audit/verify` streams: memory for 12,000 entries is what it is for 3,000."""
    tenant_id = _tenant_with_entries(sessions, settings, 12_000)
    small_id = _tenant_with_entries(sessions, settings, 3_000)
    peaks = []
    for tenant in (small_id, tenant_id):
        with transaction(sessions, tenant) as session:
            tracemalloc.start()
            result = audit.verify(session)
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
        assert result.ok, result
    assert peaks[1] < peaks[0] * 1.5, peaks


def _tenant_with_entries(
    sessions: sessionmaker[Session], settings: Settings, count: int, *, days_ago: float = 0
) -> str:
    """A new tenant whose trail starts with `count` entries written `days_ago`."""
    with transaction(sessions) as session:
        tenant = create_tenant(session, f"t-{uuid.uuid4().hex[:10]}")
        set_tenant(session, tenant.id)
        bind_keyring(session, keyring(settings))
        at = datetime.now(UTC) - timedelta(days=days_ago)
        for start in range(0, count, 1000):
            rows = []
            for n in range(start, min(count, start + 1000)):
                row = audit.entry(session, ACTOR, "test.filler", details={"n": n})
                row["occurred_at"] = at + timedelta(microseconds=n)
                rows.append(row)
            append(session.connection(), tenant.id, rows)
        return str(tenant.id)


ACTOR = Actor.system("test")


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
    failures = "auterity_audit_verification_failures_total"
    assert await metric(api, failures, tenant=owner.tenant_slug) == 0
    broken = (await api.post("/v1/audit/verify", headers=owner.headers)).json()
    assert await metric(api, failures, tenant=owner.tenant_slug) == 1
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
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    tenant_id = _tenant_with_entries(sessions, settings, 6, days_ago=3)
    with transaction(sessions, tenant_id) as session:
        bind_keyring(session, keyring(settings))
        for n in range(4):
            audit.record(session, ACTOR, "test.recent", details={"n": n})
        tenant = session.scalars(select(Tenant).where(Tenant.id == tenant_id)).one()
        tenant.settings = {**tenant.settings, audit.RETENTION_SETTING: 1}
    with transaction(sessions, tenant_id) as session:
        tenant = session.scalars(select(Tenant).where(Tenant.id == tenant_id)).one()
        assert audit.purge_expired(session, tenant, datetime.now(UTC)) == 6
    with transaction(sessions, tenant_id) as session:
        result = audit.verify(session)
        assert result.ok and result.entries == 4, result
        kept = session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)).all()
        assert kept == [7, 8, 9, 10]
        tenant = session.scalars(select(Tenant).where(Tenant.id == tenant_id)).one()
        assert audit.purge_expired(session, tenant, datetime.now(UTC)) == 0


async def test_the_retention_workflow_purges_every_tenant_as_the_app_role(
    api: httpx.AsyncClient,
    sessions: sessionmaker[Session],
    member: MemberFactory,
    settings: Settings,
    temporal_client: Client,
    task_queue: str,
) -> None:
    tenant_id = _tenant_with_entries(sessions, settings, 8, days_ago=3)
    with transaction(sessions, tenant_id) as session:
        tenant = session.scalars(select(Tenant).where(Tenant.id == tenant_id)).one()
        tenant.settings = {**tenant.settings, audit.RETENTION_SETTING: 1}
        slug = tenant.slug
    owner = await member(slug)  # recent entries: the member's creation and sign-in
    engine = make_engine(settings.database_url_resolved)  # the app's own (non-owner) login
    app_sessions = make_sessionmaker(engine)
    activities = AuditActivities(app_sessions, settings)
    async with Worker(
        temporal_client,
        task_queue=task_queue,
        workflows=[AuditRetentionWorkflow],
        activities=[activities.purge_expired],
    ):
        result = await temporal_client.execute_workflow(
            AuditRetentionWorkflow.run,
            AuditRetentionInput(tenant=slug),
            id=f"_system:audit-retention-test-{uuid.uuid4().hex}",
            task_queue=task_queue,
        )
    engine.dispose()
    assert result.tenants == 1 and result.deleted == 8 and result.refused == []
    verified = (await api.post("/v1/audit/verify", headers=owner.headers)).json()
    assert verified["ok"] is True, verified
    purged = (await api.get("/v1/audit", headers=owner.headers)).json()["items"]
    assert purged[0]["action"] == "audit.purged"
    assert purged[0]["details"]["deleted"] == 8
    assert all(entry["action"] != "test.filler" for entry in purged)


async def test_retention_refuses_a_broken_chain_and_the_worker_counts_it(
    sessions: sessionmaker[Session], settings: Settings, task_queue: str
) -> None:
    tenant_id = _tenant_with_entries(sessions, settings, 4, days_ago=3)
    with transaction(sessions, tenant_id) as session:
        tenant = session.scalars(select(Tenant).where(Tenant.id == tenant_id)).one()
        tenant.settings = {**tenant.settings, audit.RETENTION_SETTING: 1}
        slug = tenant.slug
        victim = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).first()
        assert victim is not None
        # someone with database access rewrites history (as the owner, not the app's role)
        session.execute(
            text("UPDATE audit_entries SET action = 'test.rewritten' WHERE id = :id"),
            {"id": victim.id},
        )
    port = free_port()
    client = await temporal.connect(settings, runtime=temporal.metrics_runtime(port, "127.0.0.1"))
    engine = make_engine(settings.database_url_resolved)
    activities = AuditActivities(make_sessionmaker(engine), settings)
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[AuditRetentionWorkflow],
        activities=[activities.purge_expired],
    ):
        result = await client.execute_workflow(
            AuditRetentionWorkflow.run,
            AuditRetentionInput(tenant=slug),
            id=f"_system:audit-retention-test-{uuid.uuid4().hex}",
            task_queue=task_queue,
        )
    engine.dispose()
    assert result.refused == [slug] and result.deleted == 0
    async with httpx.AsyncClient() as scraper:
        scraped = (await scraper.get(f"http://127.0.0.1:{port}/metrics")).text
    counted = [
        line for line in scraped.splitlines()
        if line.startswith("auterity_audit_verification_failures_total{")
        and f'tenant="{slug}"' in line
    ]  # fmt: skip
    assert len(counted) == 1 and counted[0].endswith(" 1"), scraped
