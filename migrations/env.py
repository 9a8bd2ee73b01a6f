"""Alembic environment: targets auterity's ORM metadata.

The URL comes from the Alembic config (set by `auterity migrate` and the
tests) or, when run as plain `alembic`, from Settings.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import auterity.models  # noqa: F401 - registers every table
from auterity.db import make_engine
from auterity.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from auterity.settings import get_settings

        url = get_settings().database_url_resolved
    engine = make_engine(url)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
