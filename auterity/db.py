"""Database engine and sessions (SQLAlchemy 2, synchronous).

SQLite is the embedded default, PostgreSQL the production engine; the same ORM
models and migrations serve both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from auterity.errors import DependencyUnavailable


def make_engine(url: str, **kwargs: object) -> Engine:
    """An engine for `url`; SQLite gets WAL and foreign keys, its folder is created."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **kwargs)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work commits on success and rolls back on error."""
    with factory() as session, session.begin():
        yield session


def check_database(engine: Engine) -> None:
    """Raise DependencyUnavailable unless a trivial query succeeds."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any driver error means "unreachable"
        raise DependencyUnavailable(
            f"database at {engine.url.render_as_string(hide_password=True)} is unreachable: "
            f"{str(exc).splitlines()[0]}"
        ) from None
