"""The audit writer (group commit) and the write-ahead audit of execution starts."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, delete, func, select, text
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus

from api.problems import ServiceUnavailable
from api.services.executions import start_execution
from api.services.executions import write_ahead as _write_ahead
from auterity import audit
from auterity.audit.append import append_after
from auterity.bootstrap import create_tenant_with_audit
from auterity.db import transaction
from auterity.graph.compiler import compile_graph
from auterity.graph.naming import run_id
from auterity.graph.run import GraphRunInput
from auterity.models.audit import AuditEntry, AuditHead
from auterity.secrets import bind_keyring, keyring
from auterity.security.principal import Actor
from auterity.security.scoping import set_tenant
from auterity.settings import Settings, load_settings


@pytest.fixture
def conf(tmp_path) -> Settings:  # type: ignore[no-untyped-def]
    return load_settings(home=tmp_path)


def tenant(sessions: sessionmaker[Session], conf: Settings) -> str:
    return create_tenant_with_audit(sessions, conf, f"w-{uuid.uuid4().hex[:10]}").id


def scoped(sessions: sessionmaker[Session], conf: Settings, tenant_id: str) -> Session:
    session = sessions()
    set_tenant(session, tenant_id)
    bind_keyring(session, keyring(conf))
    return session


def built(session: Session, action: str, **fields: Any) -> dict[str, Any]:
    """A new entry of the session's tenant, the session's transaction committed (reading
    the tenant's secrets begins one; on SQLite it holds the write lock the writer needs)."""
    row = audit.entry(session, Actor.system("test"), action, **fields)
    session.commit()
    return row


def one_connection_engine(sessions: sessionmaker[Session]) -> Engine:
    """An engine on the test database whose pool holds one connection, reused by each
    checkout."""
    url = sessions.kw["bind"].url.render_as_string(hide_password=False)
    return create_engine(url, pool_size=1, max_overflow=0)


async def test_concurrent_appends_of_two_tenants_keep_both_chains_whole(
    sessions: sessionmaker[Session], conf: Settings
) -> None:
    tenants = [tenant(sessions, conf), tenant(sessions, conf)]
    writer = audit.Writer(sessions.kw["bind"])
    try:

        async def one(index: int) -> str:
            session = scoped(sessions, conf, tenants[index % 2])
            try:
                return await writer.append(
                    session, Actor.system("test"), "test.append", details={"index": index}
                )
            finally:
                session.close()

        ids = await asyncio.gather(*(one(index) for index in range(60)))
    finally:
        await writer.aclose()
    assert len(set(ids)) == 60
    assert writer.entries == 60
    for tenant_id in tenants:
        with transaction(sessions, tenant_id) as session:
            check = audit.verify(session)
            assert check.ok, check.reason
            appended = session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "test.append")
            )
            assert appended == 30


async def test_an_entry_that_cannot_be_written_fails_every_caller_of_its_batch(
    sessions: sessionmaker[Session], conf: Settings
) -> None:
    # A tenant that does not exist: the entry is built, but the chain's head cannot be.
    writer = audit.Writer(sessions.kw["bind"])
    try:

        async def one() -> str:
            session = scoped(sessions, conf, str(uuid.uuid4()))
            try:
                return await writer.append(session, Actor.system("test"), "test.append")
            finally:
                session.close()

        outcomes = await asyncio.gather(one(), one(), return_exceptions=True)
    finally:
        await writer.aclose()
    assert all(isinstance(outcome, IntegrityError) for outcome in outcomes), outcomes


async def test_an_entry_whose_caller_stops_waiting_is_written_all_the_same(
    sessions: sessionmaker[Session], conf: Settings
) -> None:
    """A client that goes away mid-request cancels its handler, not its entry's batch."""
    tenant_id = tenant(sessions, conf)
    writer = audit.Writer(sessions.kw["bind"])
    session = scoped(sessions, conf, tenant_id)
    try:
        rows = [
            audit.entry(session, Actor.system("test"), f"test.{name}") for name in ("gone", "kept")
        ]
        session.commit()  # (reading the tenant's secrets began a transaction)
        gone, kept = (asyncio.ensure_future(writer.write(row)) for row in rows)
        await asyncio.sleep(0)  # both handed to the writer
        gone.cancel()
        await asyncio.wait_for(kept, 30)  # a writer thread that died would never answer
        with pytest.raises(asyncio.CancelledError):
            await gone
    finally:
        await writer.aclose()
        session.close()
    with transaction(sessions, tenant_id) as session:
        check = audit.verify(session)
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)).all()
    assert check.ok, check.reason
    assert sorted(actions[1:]) == ["test.gone", "test.kept"]


def test_an_entry_recorded_in_a_transaction_that_rolls_back_leaves_no_trace(
    sessions: sessionmaker[Session], conf: Settings
) -> None:
    """`record` appends in the caller's transaction (pipelined on PostgreSQL): undone with it."""
    tenant_id = tenant(sessions, conf)
    session = scoped(sessions, conf, tenant_id)
    try:
        audit.record(session, Actor.system("test"), "test.undone")
        session.rollback()
        audit.record(session, Actor.system("test"), "test.kept", details={"n": 1})
        session.commit()
    finally:
        session.close()
    with transaction(sessions, tenant_id) as session:
        check = audit.verify(session)
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)).all()
    assert check.ok, check.reason
    assert actions == ["tenants.created", "test.kept"]
    assert check.last_seq == 2


def test_a_batch_of_rows_links_in_order_and_starts_a_chain_that_had_no_head(
    sessions: sessionmaker[Session], conf: Settings
) -> None:
    tenant_id = tenant(sessions, conf)
    with transaction(sessions, tenant_id) as session:
        session.execute(delete(AuditEntry))
        session.execute(delete(AuditHead))
    with transaction(sessions, tenant_id) as session:
        bind_keyring(session, keyring(conf))
        rows = [
            audit.entry(session, Actor.system("test"), "test.batch", details={"n": n})
            for n in range(3)
        ]
        audit.append(session.connection(), tenant_id, rows)
    with transaction(sessions, tenant_id) as session:
        check = audit.verify(session)
        numbers = session.execute(
            select(AuditEntry.seq, AuditEntry.details).order_by(AuditEntry.seq)
        ).all()
    assert check.ok, check.reason
    assert [(seq, details["n"]) for seq, details in numbers] == [(1, 0), (2, 1), (3, 2)]


async def test_a_writer_whose_remembered_head_another_writer_moved_claims_its_links_again(
    sessions: sessionmaker[Session], conf: Settings
) -> None:
    """Two API processes (two writers) and a mutating endpoint (`record`) take turns on one
    tenant's chain: each writer's remembered head goes stale, and no entry is lost,
    doubled or linked onto a stale head."""
    tenant_id = tenant(sessions, conf)
    writers = [audit.Writer(sessions.kw["bind"]), audit.Writer(sessions.kw["bind"])]
    session = scoped(sessions, conf, tenant_id)
    try:
        for turn in range(12):
            await writers[turn % 2].write(built(session, "test.turn", details={"n": turn}))
            if turn % 3 == 2:  # an entry in an endpoint's own transaction moves it too
                audit.record(session, Actor.system("test"), "test.record", details={"n": turn})
                session.commit()
            # the same writer twice in a row: its remembered head is still the chain's
            await writers[turn % 2].write(built(session, "test.again", details={"n": turn}))
    finally:
        for writer in writers:
            await writer.aclose()
        session.close()
    with transaction(sessions, tenant_id) as session:
        check = audit.verify(session)
        written = session.execute(
            select(AuditEntry.action, AuditEntry.details).order_by(AuditEntry.seq)
        ).all()
    assert check.ok, check.reason
    assert check.last_seq == 1 + 12 * 2 + 4
    turns = [details["n"] for action, details in written if action == "test.turn"]
    assert turns == list(range(12))
    assert sum(writer.entries for writer in writers) == 24


async def test_hostile_values_reach_the_trail_as_they_were_sent(
    sessions: sessionmaker[Session], conf: Settings
) -> None:
    """Entries linked onto a remembered head travel as text parameters of one prepared
    statement: quotes, backslashes, SQL, escapes, NUL inside JSON values and non-ASCII
    text must arrive unchanged and hash the same."""
    tenant_id = tenant(sessions, conf)
    sql, unicode = "x'); DELETE FROM audit_entries; --", "Zoë 東京 \U0001f600"
    hostile = {
        "sql": sql,
        "quotes": '"\\"\\u0041\n\t',
        "nul": "a\u0000b",
        "unicode": unicode,
        "json": '{"seq": 1, "hash": "' + "0" * 64 + '"}',
        "nested": [{"k": ["v", 1, 2.5, None, True]}],
    }
    writer = audit.Writer(sessions.kw["bind"])
    session = scoped(sessions, conf, tenant_id)
    try:
        for n in range(3):  # the first claims; the others link onto the remembered head
            row = built(
                session, "test.hostile", details={**hostile, "n": n},
                targets=[audit.Target("graph", sql, name=unicode)],
            )  # fmt: skip
            await writer.write(row)
    finally:
        await writer.aclose()
        session.close()
    with transaction(sessions, tenant_id) as session:
        check = audit.verify(session)
        stored = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "test.hostile").order_by(AuditEntry.seq)
        ).all()
        assert check.ok, check.reason
        assert [entry.details for entry in stored] == [{**hostile, "n": n} for n in range(3)]
        assert {entry.target_id for entry in stored} == {sql}
        assert stored[-1].targets[0]["name"] == unicode
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 4


async def test_a_value_too_long_for_its_column_is_refused_not_cut(
    sessions: sessionmaker[Session], conf: Settings, database_engine_name: str
) -> None:
    """Linked onto a remembered head, an over-long value (or one holding a NUL) fails its
    batch as a claimed one does: cut short, it would no longer match its hash. The writer
    then goes on, on the same pool's one connection, its statements prepared afresh."""
    if database_engine_name == "sqlite":
        pytest.skip("SQLite keeps any length, and its writer claims every link")
    tenant_id = tenant(sessions, conf)
    engine = one_connection_engine(sessions)
    writer = audit.Writer(engine)
    session = scoped(sessions, conf, tenant_id)

    def aimed_at(target_id: str) -> dict[str, Any]:
        return built(session, "test.long", targets=[audit.Target("graph", target_id)])

    try:
        await writer.write(aimed_at("short"))  # the head is remembered from here on
        with pytest.raises(DataError):  # refused before it is sent: libpq would stop at NUL
            await writer.write(aimed_at("nul \x00 inside"))
        await writer.write(aimed_at("claimed"))  # a failure forgets the heads: this one claims
        with pytest.raises(DataError):  # its statement prepared in the failed round trip
            await writer.write(aimed_at("x" * 256))  # target_id is 255 at most
        await writer.write(aimed_at("claimed again"))
        await writer.write(aimed_at("linked"))  # onto the head, its statement prepared afresh
        await writer.write(aimed_at("linked again"))  # the prepared statement, reused
    finally:
        await writer.aclose()
        engine.dispose()
        session.close()
    with transaction(sessions, tenant_id) as session:
        check = audit.verify(session)
        targets = session.scalars(
            select(AuditEntry.target_id)
            .where(AuditEntry.action == "test.long")
            .order_by(AuditEntry.seq)
        ).all()
    assert check.ok, check.reason
    assert targets == ["short", "claimed", "claimed again", "linked", "linked again"]


def test_a_round_trip_that_fails_for_one_tenant_writes_nothing_for_any(
    sessions: sessionmaker[Session], conf: Settings, database_engine_name: str
) -> None:
    """`append_after` sends two tenants' entries in one pipeline, without BEGIN or COMMIT:
    they are one implicit transaction. The second tenant's entry is refused by the
    database, so the first tenant's, already executed, is rolled back with it."""
    if database_engine_name == "sqlite":
        pytest.skip("append_after is PostgreSQL's")
    first, second = tenant(sessions, conf), tenant(sessions, conf)
    rows = {}
    for tenant_id, target in ((first, "fine"), (second, "x" * 256)):  # target_id: 255 at most
        with scoped(sessions, conf, tenant_id) as session:
            rows[tenant_id] = built(session, "test.atomic", targets=[audit.Target("graph", target)])

    def heads() -> dict[str, tuple[int, str]]:
        found = {}
        for tenant_id in rows:
            with transaction(sessions, tenant_id) as session:
                head = session.get_one(AuditHead, tenant_id)
                found[tenant_id] = (head.last_seq, head.last_hash)
        return found

    before = heads()
    engine = one_connection_engine(sessions)
    try:
        with engine.connect() as connection, pytest.raises(DataError):
            append_after(
                connection,
                {tenant_id: ([row], before[tenant_id]) for tenant_id, row in rows.items()},
                set(),
            )
        assert heads() == before
        for tenant_id in rows:
            with transaction(sessions, tenant_id) as session:
                assert audit.verify(session).ok
                assert not session.scalars(
                    select(AuditEntry.id).where(AuditEntry.action == "test.atomic")
                ).all()
    finally:
        engine.dispose()


async def test_a_writer_gives_its_connection_back_without_its_prepared_statements(
    sessions: sessionmaker[Session], conf: Settings, database_engine_name: str
) -> None:
    """Between checkouts the pool's connection serves others, whose psycopg may
    DEALLOCATE ALL: the writer prepares its statements afresh on each checkout, and
    deallocates them when it gives the connection back (idle, or stopping)."""
    if database_engine_name == "sqlite":
        pytest.skip("nothing is prepared on SQLite")
    tenant_id = tenant(sessions, conf)
    engine = one_connection_engine(sessions)
    writer = audit.Writer(engine)
    session = scoped(sessions, conf, tenant_id)
    ours = text("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'auterity_%'")
    try:
        for n in range(6):
            row = built(session, "test.checkout", details={"n": n})
            await writer.write(row)  # linked onto the remembered head from the second on
            await writer.aclose()  # gives the connection back; the next write starts again
            with engine.connect() as other:  # between two checkouts, someone else's turn
                assert other.scalar(ours) == 0  # given back without them
                other.exec_driver_sql("DEALLOCATE ALL" if n % 2 else "SELECT 1")
    finally:
        await writer.aclose()
        session.close()
    with engine.connect() as other:
        assert other.scalar(ours) == 0
    engine.dispose()
    with transaction(sessions, tenant_id) as session:
        check = audit.verify(session)
        count = session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "test.checkout")
        )
    assert check.ok, check.reason
    assert count == 6 and writer.entries == 6


GRAPH = {"name": "w", "nodes": [{"id": "a", "type": "transform", "config": {"value": 1}}]}


def new_run() -> tuple[GraphRunInput, str]:
    """A run of GRAPH in tenant acme, and a new execution id for it."""
    plan = compile_graph(GRAPH)
    run = GraphRunInput(
        tenant="acme", graph_id="gr_w", version_id=plan.version_id, plan=plan, inputs={},
        trigger="api",
    )  # fmt: skip
    return run, run_id("acme", "gr_w")


async def test_a_run_whose_entry_cannot_be_written_is_terminated(
    temporal_client: Client, task_queue: str
) -> None:
    run, workflow_id = new_run()

    async def record(outcome: str = "success", error: str | None = None) -> str:
        await asyncio.sleep(0.05)  # the start gets there first
        raise RuntimeError("audit trail down")

    def start():  # type: ignore[no-untyped-def]
        return start_execution(temporal_client, task_queue, run, workflow_id=workflow_id)

    with pytest.raises(ServiceUnavailable):
        await _write_ahead(record, start, temporal_client, workflow_id)
    description = await temporal_client.get_workflow_handle(workflow_id).describe()
    assert description.status == WorkflowExecutionStatus.TERMINATED


async def test_a_start_that_temporal_refuses_is_recorded_as_a_failure(
    temporal_client: Client, task_queue: str
) -> None:
    run, workflow_id = new_run()
    await start_execution(temporal_client, task_queue, run, workflow_id=workflow_id)
    recorded: list[tuple[str, str | None]] = []

    async def record(outcome: str = "success", error: str | None = None) -> str:
        recorded.append((outcome, error))
        return "entry"

    def start_again():  # type: ignore[no-untyped-def]
        # The same id again, without an idempotency key: Temporal refuses.
        return start_execution(temporal_client, task_queue, run, workflow_id=workflow_id)

    with pytest.raises(Exception, match="already started"):
        await _write_ahead(record, start_again, temporal_client, workflow_id)
    assert recorded[0] == ("success", None)
    assert recorded[1][0] == "failure" and "already started" in (recorded[1][1] or "").lower()
    await temporal_client.get_workflow_handle(workflow_id).terminate("test over")
