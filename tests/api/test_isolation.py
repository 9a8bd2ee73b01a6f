"""Tenant isolation: every endpoint answers 404 for another tenant's ids; RLS is the second wall."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import create_engine, text

from api.auth import ensure_workflow_in_tenant
from api.problems import NotFound
from auterity.settings import Settings
from tests.api.conftest import TwoTenants, login


async def _ids_of_a(api: httpx.AsyncClient, people: TwoTenants) -> dict[str, str]:
    """Create one of everything in tenant A; return the ids."""
    a = people.a.headers
    role = await api.post(
        "/v1/roles", json={"name": "auditor", "permissions": ["audit:read"]}, headers=a
    )
    key = await api.post("/v1/api-keys", json={"name": "ci", "scopes": ["graphs:read"]}, headers=a)
    secret = await api.post(
        "/v1/secrets", json={"name": "hook_url", "value": "https://x"}, headers=a
    )
    invited = await api.post(
        "/v1/invitations",
        json={"email": f"colleague-{people.a.user_id}@example.com", "roles": ["viewer"]},
        headers=a,
    )
    for response in (role, key, secret, invited):
        assert response.status_code == 201, response.text
    joined = await api.post(
        "/v1/invitations/accept-new",
        json={"token": invited.json()["token"], "password": "a colleague's passphrase"},
    )
    assert joined.status_code == 201, joined.text
    colleague = next(
        person
        for person in (await api.get("/v1/users", headers=a)).json()["items"]
        if person["email"] == invited.json()["email"]
    )
    return {
        "user": people.a.user_id,
        "invited": colleague["id"],
        "invitation": invited.json()["id"],
        "role": role.json()["id"],
        "key": key.json()["id"],
        "secret": secret.json()["id"],
    }


ENDPOINTS = [
    ("GET", "/v1/users/{user}", None),
    ("PATCH", "/v1/users/{user}", {"roles": ["viewer"]}),
    ("DELETE", "/v1/users/{user}", None),
    ("GET", "/v1/users/{invited}", None),
    ("PATCH", "/v1/users/{invited}", {"is_active": False}),
    ("DELETE", "/v1/users/{invited}", None),
    ("POST", "/v1/users/{invited}/password", {}),
    ("GET", "/v1/invitations/{invitation}", None),
    ("DELETE", "/v1/invitations/{invitation}", None),
    ("GET", "/v1/roles/{role}", None),
    ("PATCH", "/v1/roles/{role}", {"description": "mine now"}),
    ("DELETE", "/v1/roles/{role}", None),
    ("GET", "/v1/api-keys/{key}", None),
    ("DELETE", "/v1/api-keys/{key}", None),
    ("GET", "/v1/secrets/{secret}", None),
    ("PUT", "/v1/secrets/{secret}", {"value": "overwritten"}),
    ("DELETE", "/v1/secrets/{secret}", None),
]


async def test_every_endpoint_answers_404_for_another_tenants_ids(
    api: httpx.AsyncClient, two_tenants: TwoTenants
) -> None:
    ids = await _ids_of_a(api, two_tenants)
    for method, path, body in ENDPOINTS:
        url = path.format(**ids)
        response = await api.request(method, url, json=body, headers=two_tenants.b.headers)
        assert response.status_code == 404, (
            f"{method} {url}: {response.status_code} {response.text}"
        )
        assert response.headers["content-type"] == "application/problem+json"
    # ... and nothing of A changed, nor leaked into B's lists
    for method, path, _ in ENDPOINTS:
        if method == "GET":
            url = path.format(**ids)
            assert (await api.get(url, headers=two_tenants.a.headers)).status_code == 200, url
    key = await api.get(f"/v1/api-keys/{ids['key']}", headers=two_tenants.a.headers)
    assert key.json()["revoked_at"] is None
    for listing, field in (
        ("/v1/users", "id"),
        ("/v1/invitations", "id"),
        ("/v1/roles", "id"),
        ("/v1/api-keys", "id"),
        ("/v1/secrets", "id"),
        ("/v1/audit", "id"),
    ):
        seen = {
            item[field]
            for item in (await api.get(listing, headers=two_tenants.b.headers)).json()["items"]
        }
        assert not seen & set(ids.values()), listing
    audit_a = await api.get("/v1/audit", headers=two_tenants.a.headers)
    audit_b = await api.get("/v1/audit", headers=two_tenants.b.headers)
    assert not {e["id"] for e in audit_a.json()["items"]} & {
        e["id"] for e in audit_b.json()["items"]
    }


async def test_an_api_key_works_only_in_its_tenant(
    api: httpx.AsyncClient, two_tenants: TwoTenants
) -> None:
    ids = await _ids_of_a(api, two_tenants)
    created = await api.post(
        "/v1/api-keys",
        json={"name": "admin", "scopes": ["users:manage"]},
        headers=two_tenants.a.headers,
    )
    key = {"Authorization": f"Bearer {created.json()['key']}"}
    me = await api.get("/v1/me", headers=key)
    assert me.status_code == 200, me.text
    assert me.json()["tenant"]["slug"] == two_tenants.a.tenant_slug
    assert (await api.get(f"/v1/users/{two_tenants.b.user_id}", headers=key)).status_code == 404
    assert (await api.get(f"/v1/users/{ids['invited']}", headers=key)).status_code == 200


def test_temporal_workflow_ids_must_start_with_the_tenant() -> None:
    assert ensure_workflow_in_tenant("acme:triage:123", "acme") == "acme:triage:123"
    for other in ("globex:triage:123", "acme-corp:triage:1", "acmetriage:1", ""):
        with pytest.raises(NotFound):
            ensure_workflow_in_tenant(other, "acme")


async def test_postgres_rls_hides_other_tenants_rows_from_raw_sql(
    api: httpx.AsyncClient, two_tenants: TwoTenants, database_url: str, settings: Settings
) -> None:
    """As the app's role, in a transaction set to tenant B, raw SQL sees none of A's rows."""
    if not database_url.startswith("postgres"):
        pytest.skip("row-level security is PostgreSQL's")
    await _ids_of_a(api, two_tenants)
    tables = (
        "memberships",
        "membership_roles",
        "roles",
        "auth_sessions",
        "refresh_tokens",
        "api_keys",
        "secrets",
        "audit_entries",
        "audit_heads",
        "human_tasks",
    )
    a, b = two_tenants.a.tenant_id, two_tenants.b.tenant_id
    engine = create_engine(settings.database_url_resolved)  # the app's non-owner login
    try:
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT current_user")) != "postgres"
            connection.rollback()
            with connection.begin():
                connection.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": b})
                for table in tables:
                    leaked = connection.scalar(
                        text(f"SELECT count(*) FROM {table} WHERE tenant_id = :a"), {"a": a}
                    )
                    assert leaked == 0, table
                    everything = connection.scalar(text(f"SELECT count(*) FROM {table}"))
                    mine = connection.scalar(
                        text(f"SELECT count(*) FROM {table} WHERE tenant_id = :b"), {"b": b}
                    )
                    assert everything == mine, table
                assert connection.scalar(text("SELECT count(*) FROM memberships")) >= 1
                with (
                    pytest.raises(Exception, match="row-level security"),
                    connection.begin_nested(),
                ):
                    connection.execute(
                        text(
                            "INSERT INTO roles (id, tenant_id, name, description, permissions,"
                            " created_at, updated_at) VALUES ('x', :a, 'sneaky', '', '[]',"
                            " now(), now())"
                        ),
                        {"a": a},
                    )
            with connection.begin():  # no tenant set: nothing at all
                for table in tables:
                    assert connection.scalar(text(f"SELECT count(*) FROM {table}")) == 0, table
            with connection.begin():  # the app role may not rewrite history
                connection.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": a})
                with (
                    pytest.raises(Exception, match="permission denied"),
                    connection.begin_nested(),
                ):
                    connection.execute(text("UPDATE audit_entries SET action = 'x'"))
    finally:
        engine.dispose()


async def test_postgres_rls_is_forced_on_every_tenant_owned_table(database_url: str) -> None:
    if not database_url.startswith("postgres"):
        pytest.skip("row-level security is PostgreSQL's")
    from auterity.models import Base, TenantOwned
    from auterity.settings import Settings as S

    owned = {
        mapper.local_table.name
        for mapper in Base.registry.mappers
        if issubclass(mapper.class_, TenantOwned)
    }
    engine = create_engine(S(database_url=database_url).database_url_resolved)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
                    "WHERE relname = ANY(:names)"
                ),
                {"names": sorted(owned)},
            ).all()
    finally:
        engine.dispose()
    state = {name: (enabled, forced) for name, enabled, forced in rows}
    missing = {name for name in owned if state.get(name) != (True, True)}
    assert not missing, f"tenant-owned tables without forced RLS: {sorted(missing)}"


async def test_postgres_walls_of_tenants_users_login_attempts_and_invitations(
    api: httpx.AsyncClient, two_tenants: TwoTenants, database_url: str, settings: Settings
) -> None:
    """As the app's role, set to tenant B: A's tenant row and A's members' accounts cannot be
    changed, no tenant or account can be deleted, login attempts are visible only for the
    keys at hand, and A's invitations are invisible (migration 0009_accounts)."""
    if not database_url.startswith("postgres"):
        pytest.skip("row-level security is PostgreSQL's")
    ids = await _ids_of_a(api, two_tenants)
    await login(api, two_tenants.a.email, "a wrong password")  # one attempt row for A's owner
    a, b = two_tenants.a, two_tenants.b
    engine = create_engine(settings.database_url_resolved)  # the app's non-owner login
    try:
        with engine.connect() as connection:
            connection.rollback()
            with connection.begin():
                connection.execute(
                    text("SELECT set_config('app.tenant_id', :t, true)"), {"t": b.tenant_id}
                )
                renamed = connection.execute(
                    text("UPDATE tenants SET settings = '{\"egress_allow\": [\"10.0.0.0/8\"]}' "
                         "WHERE id = :a"), {"a": a.tenant_id}
                )  # fmt: skip
                assert renamed.rowcount == 0
                own = connection.execute(
                    text("UPDATE tenants SET name = name WHERE id = :b"), {"b": b.tenant_id}
                )
                assert own.rowcount == 1
                taken = connection.execute(
                    text("UPDATE users SET password_hash = 'x' WHERE id IN (:a, :invited)"),
                    {"a": a.user_id, "invited": ids["invited"]},
                )
                assert taken.rowcount == 0
                mine = connection.execute(
                    text("UPDATE users SET name = name WHERE id = :b"), {"b": b.user_id}
                )
                assert mine.rowcount == 1
                assert connection.scalar(text("SELECT count(*) FROM login_attempts")) == 0
                assert connection.scalar(text("SELECT count(*) FROM invitations")) == 0
                assert connection.scalar(
                    text("SELECT count(*) FROM invitations WHERE id = :i"),
                    {"i": ids["invitation"]},
                ) == 0  # fmt: skip
                for statement in (
                    "DELETE FROM tenants WHERE id = :b",
                    "DELETE FROM users WHERE id = :u",
                    "UPDATE login_attempts SET key = 'x'",
                ):
                    with (
                        pytest.raises(Exception, match="permission denied"),
                        connection.begin_nested(),
                    ):
                        connection.execute(text(statement), {"b": b.tenant_id, "u": b.user_id})
                with (
                    pytest.raises(Exception, match="row-level security"),
                    connection.begin_nested(),
                ):
                    connection.execute(
                        text("INSERT INTO login_attempts (key, attempted_at) "
                             "VALUES ('account:someone-else', now())")
                    )  # fmt: skip
    finally:
        engine.dispose()
