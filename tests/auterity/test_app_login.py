"""In production `auterity api` and `auterity worker` refuse a database login that
row-level security would not bind: a superuser, a BYPASSRLS login, the tables' owner
or a member of the owner's role. Real roles on the test server, the real command."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import create_engine, make_url, text

from auterity import migrate
from auterity.db import check_app_login, make_engine
from auterity.errors import ConfigError
from auterity.security.rls import APP_ROLE
from auterity.settings import Settings
from tests.support import (
    POSTGRES_URL,
    _psycopg,
    free_port,
    fresh_postgres_database,
    postgres_reachable,
)

pytestmark = pytest.mark.skipif(not postgres_reachable(), reason="needs PostgreSQL")


@dataclass
class Logins:
    """URLs of one database, each as a different login."""

    owner: str
    superuser: str
    bypass: str
    owner_member: str
    app: str


@pytest.fixture(scope="module")
def logins() -> Iterator[Logins]:
    suffix = uuid.uuid4().hex[:8]
    names = {
        "owner": f"auterity_t_owner_{suffix}",
        "superuser": f"auterity_t_super_{suffix}",
        "bypass": f"auterity_t_bypass_{suffix}",
        "owner_member": f"auterity_t_ownmember_{suffix}",
        "app": f"auterity_t_app_{suffix}",
    }
    with fresh_postgres_database() as url:
        admin_url = make_url(Settings(database_url=url).database_url_resolved)
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(
                text(
                    f"DO $$ BEGIN CREATE ROLE {APP_ROLE} NOLOGIN; "
                    "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
                )
            )
            connection.execute(text(f"CREATE ROLE {names['owner']} LOGIN"))
            connection.execute(
                text(f"ALTER DATABASE {admin_url.database} OWNER TO {names['owner']}")
            )
            connection.execute(text(f"ALTER SCHEMA public OWNER TO {names['owner']}"))
            connection.execute(text(f"CREATE ROLE {names['superuser']} LOGIN SUPERUSER"))
            connection.execute(
                text(f"CREATE ROLE {names['bypass']} LOGIN BYPASSRLS IN ROLE {APP_ROLE}")
            )
            connection.execute(
                text(f"CREATE ROLE {names['owner_member']} LOGIN IN ROLE {names['owner']}")
            )
            connection.execute(text(f"CREATE ROLE {names['app']} LOGIN IN ROLE {APP_ROLE}"))
        as_login = {
            key: admin_url.set(username=name, password=None).render_as_string(hide_password=False)
            for key, name in names.items()
        }
        # Migrated as the owner, the way the deployments do it.
        migrate.upgrade(as_login["owner"])
        try:
            yield Logins(**as_login)
        finally:
            with admin.connect() as connection:
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": admin_url.database},
                )
                connection.execute(
                    text(f"ALTER DATABASE {admin_url.database} OWNER TO CURRENT_USER")
                )
                connection.execute(text("ALTER SCHEMA public OWNER TO pg_database_owner"))
                connection.execute(text(f"REASSIGN OWNED BY {names['owner']} TO CURRENT_USER"))
            admin.dispose()
    server = create_engine(_psycopg(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        for name in names.values():
            connection.execute(text(f"DROP ROLE IF EXISTS {name}"))
    server.dispose()


def run_command(command: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AUTERITY_ENV": "production",
        "AUTERITY_SECRET_KEY": "a-production-secret-key-of-enough-length-0123",
        "AUTERITY_DATABASE_URL": database_url,
        "AUTERITY_MODEL_ROUTES": '{"default": ["openai/gpt-4o-mini"]}',
        "AUTERITY_TEMPORAL_ADDRESS": "127.0.0.1:1",  # nothing listens: the worker stops there
        "AUTERITY_API_PORT": str(free_port()),
    }
    env.pop("AUTERITY_MIGRATION_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "auterity.cli", command],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("command", ["api", "worker"])
@pytest.mark.parametrize(
    ("login", "why"),
    [
        ("superuser", "is a superuser"),
        ("bypass", "has BYPASSRLS"),
        ("owner", "owns the application tables"),
        ("owner_member", "owns the application tables"),
    ],
)
def test_production_refuses_a_login_rls_does_not_bind(
    logins: Logins, command: str, login: str, why: str
) -> None:
    url = getattr(logins, login)
    result = run_command(command, url)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    name = make_url(url).username
    assert lines[0].startswith(f"error: AUTERITY_DATABASE_URL login '{name}' {why}")
    assert "README" in lines[0]


def test_production_worker_gets_past_the_check_with_a_non_owner_login(logins: Logins) -> None:
    result = run_command("worker", logins.app)
    assert result.returncode != 0  # no Temporal here: it stops at the next dependency
    assert "AUTERITY_DATABASE_URL" not in result.stderr
    assert "emporal" in result.stderr


def test_check_accepts_a_member_of_the_app_role_and_refuses_the_rest(logins: Logins) -> None:
    engine = make_engine(Settings(database_url=logins.app).database_url_resolved)
    try:
        check_app_login(engine)
    finally:
        engine.dispose()
    for url in (logins.superuser, logins.bypass, logins.owner, logins.owner_member):
        engine = make_engine(Settings(database_url=url).database_url_resolved)
        try:
            with pytest.raises(ConfigError, match="AUTERITY_DATABASE_URL login"):
                check_app_login(engine)
        finally:
            engine.dispose()


def test_sqlite_has_no_logins_to_check(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/a.db")
    try:
        check_app_login(engine)
    finally:
        engine.dispose()
