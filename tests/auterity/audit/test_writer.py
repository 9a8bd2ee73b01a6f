"""The audit writer (group commit) and the write-ahead audit of execution starts."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus

from api.problems import ServiceUnavailable
from api.services.executions import start_execution
from api.services.executions import write_ahead as _write_ahead
from auterity import audit
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
