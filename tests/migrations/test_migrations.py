"""Migrations go up, all the way down, and up again on both engines."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from auterity import migrate
from auterity.db import make_engine
from auterity.models import Base
from auterity.settings import Settings
from tests.support import fresh_postgres_database, postgres_reachable


def _roundtrip(url: str) -> None:
    resolved = Settings(database_url=url).database_url_resolved
    migrate.upgrade(resolved)
    engine = make_engine(resolved)
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    migrate.downgrade(resolved)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(resolved)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_upgrade_downgrade_upgrade_sqlite(tmp_path) -> None:
    _roundtrip(f"sqlite:///{tmp_path / 'roundtrip.db'}")


@pytest.mark.postgres
def test_upgrade_downgrade_upgrade_postgresql() -> None:
    if not postgres_reachable():
        pytest.skip("PostgreSQL is not reachable")
    with fresh_postgres_database() as url:
        _roundtrip(url)
