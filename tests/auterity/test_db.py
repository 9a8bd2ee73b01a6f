"""SQLite's one writer: this process's transactions take turns (`WriterTurns`), in order,
and give the turn back however their transaction ends."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from auterity.db import make_engine


def test_transactions_take_turns_in_arrival_order(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'turns.db'}", sqlite_wait_seconds=10)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE log (n INTEGER)"))
    order: list[int] = []

    def write(n: int) -> None:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO log VALUES (:n)"), {"n": n})
            order.append(n)

    with engine.begin() as holder:  # holds the turn while the others line up
        holder.execute(text("SELECT 1"))
        threads = []
        for n in range(6):
            thread = threading.Thread(target=write, args=(n,))
            thread.start()
            threads.append(thread)
            time.sleep(0.05)  # arrive in order
    for thread in threads:
        thread.join(10)
    assert order == list(range(6))
    engine.dispose()


def test_no_turn_in_time_is_database_is_locked_and_the_turn_is_not_lost(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'turns.db'}", sqlite_wait_seconds=0.2)
    connection = engine.connect()
    connection.execute(text("SELECT 1"))  # begins: holds the turn
    failure: list[BaseException] = []

    def late() -> None:
        try:
            with engine.begin() as other:
                other.execute(text("SELECT 1"))
        except OperationalError as exc:
            failure.append(exc)

    thread = threading.Thread(target=late)
    thread.start()
    thread.join(5)
    assert failure and "database is locked" in str(failure[0])
    connection.close()  # ends its transaction without commit or rollback
    with engine.begin() as after:  # the turn came back
        assert after.execute(text("SELECT 1")).scalar() == 1
    engine.dispose()


def test_a_failed_transaction_gives_the_turn_back(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'turns.db'}", sqlite_wait_seconds=0.2)
    with pytest.raises(OperationalError), engine.begin() as connection:
        connection.execute(text("SELECT * FROM missing"))
    with engine.begin() as connection:
        assert connection.execute(text("SELECT 2")).scalar() == 2
    engine.dispose()
