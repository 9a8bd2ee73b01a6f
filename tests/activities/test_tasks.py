"""`task.open` / `task.close` against a migrated database (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.tasks import TaskActivities
from auterity.db import transaction
from auterity.graph.contracts import CloseTaskInput, OpenTaskInput
from auterity.models import Tenant
from auterity.models.tasks import HumanTask


@dataclass(frozen=True)
class TenantRef:
    id: str
    slug: str


def _make_tenant(sessions: sessionmaker[Session]) -> TenantRef:
    with transaction(sessions) as session:
        row = Tenant(slug=f"t-{uuid.uuid4().hex[:10]}", name="Tasks Inc")
        session.add(row)
        session.flush()
        return TenantRef(row.id, row.slug)


@pytest.fixture
def tenant(sessions: sessionmaker[Session]) -> TenantRef:
    return _make_tenant(sessions)


@pytest.fixture
def tasks(sessions: sessionmaker[Session]) -> TaskActivities:
    return TaskActivities(sessions)


def _open(tenant: TenantRef, **changes: object) -> OpenTaskInput:
    fields: dict[str, object] = {
        "tenant": tenant.slug,
        "execution_id": f"{tenant.slug}:graph:run-{uuid.uuid4().hex[:8]}",
        "node_id": "approve",
        "task_id": str(uuid.uuid4()),
        "title": "Approve the refund",
        "description": "Customer asks for 120 EUR back",
        "assignees": ["role:manager", "user:ann@example.com"],
        "form": {"type": "object", "properties": {"amount": {"type": "number"}}},
        "due_at": datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
        "context": {"ticket": "T-42"},
    }
    fields.update(changes)
    return OpenTaskInput.model_validate(fields)


def _read(sessions: sessionmaker[Session], tenant: TenantRef, task_id: str) -> HumanTask:
    with transaction(sessions, tenant.id) as session:
        task = session.get(HumanTask, task_id)
        assert task is not None
        return task


async def test_open_records_a_pending_task(
    tasks: TaskActivities, sessions: sessionmaker[Session], tenant: TenantRef
) -> None:
    request = _open(tenant)
    result = await ActivityEnvironment().run(tasks.open, request)

    assert result.task_id == request.task_id and result.created
    task = _read(sessions, tenant, request.task_id)
    assert task.tenant_id == tenant.id
    assert task.execution_id == request.execution_id
    assert task.node_id == "approve"
    assert task.status == "pending"
    assert task.assignees == ["role:manager", "user:ann@example.com"]
    assert task.form == request.form and task.context == {"ticket": "T-42"}
    assert task.due_at is not None
    assert task.due_at.replace(tzinfo=task.due_at.tzinfo or UTC) == request.due_at
    assert task.created_at is not None and task.completed_at is None


async def test_open_is_idempotent(
    tasks: TaskActivities, sessions: sessionmaker[Session], tenant: TenantRef
) -> None:
    request = _open(tenant)
    env = ActivityEnvironment()
    first = await env.run(tasks.open, request)
    again = await env.run(tasks.open, request.model_copy(update={"title": "changed"}))

    assert first.created and not again.created
    with transaction(sessions, tenant.id) as session:
        rows = session.scalars(
            select(HumanTask).where(HumanTask.execution_id == request.execution_id)
        ).all()
    assert [row.title for row in rows] == ["Approve the refund"]


async def test_one_execution_may_hold_many_tasks_of_one_node(
    tasks: TaskActivities, sessions: sessionmaker[Session], tenant: TenantRef
) -> None:
    execution_id = f"{tenant.slug}:graph:foreach"
    env = ActivityEnvironment()
    for _ in range(3):
        await env.run(tasks.open, _open(tenant, execution_id=execution_id))
    with transaction(sessions, tenant.id) as session:
        count = len(
            session.scalars(select(HumanTask).where(HumanTask.execution_id == execution_id)).all()
        )
    assert count == 3


async def test_close_records_the_decision_once(
    tasks: TaskActivities, sessions: sessionmaker[Session], tenant: TenantRef
) -> None:
    request = _open(tenant)
    env = ActivityEnvironment()
    await env.run(tasks.open, request)
    decided = CloseTaskInput(
        tenant=tenant.slug,
        task_id=request.task_id,
        status="completed",
        decision="approved",
        comment="fine by me",
        data={"amount": 120},
        actor="user:ann@example.com",
    )
    await env.run(tasks.close, decided)
    await env.run(
        tasks.close, CloseTaskInput(tenant=tenant.slug, task_id=request.task_id, status="timed_out")
    )

    task = _read(sessions, tenant, request.task_id)
    assert task.status == "completed"
    assert task.decision == "approved" and task.comment == "fine by me"
    assert task.data == {"amount": 120}
    assert task.completed_by == "user:ann@example.com"
    assert task.completed_at is not None
    completed_at = task.completed_at.replace(tzinfo=task.completed_at.tzinfo or UTC)
    assert datetime.now(UTC) - completed_at < timedelta(minutes=1)


async def test_timeouts_and_cancellations_close_without_a_decision(
    tasks: TaskActivities, sessions: sessionmaker[Session], tenant: TenantRef
) -> None:
    env = ActivityEnvironment()
    for status in ("timed_out", "cancelled"):
        request = _open(tenant)
        await env.run(tasks.open, request)
        await env.run(
            tasks.close, CloseTaskInput(tenant=tenant.slug, task_id=request.task_id, status=status)
        )
        task = _read(sessions, tenant, request.task_id)
        assert task.status == status and task.decision is None


async def test_unknown_or_foreign_tasks_cannot_be_closed(
    tasks: TaskActivities, sessions: sessionmaker[Session], tenant: TenantRef
) -> None:
    tenant_b = _make_tenant(sessions)
    env = ActivityEnvironment()
    with pytest.raises(ApplicationError) as caught:
        await env.run(
            tasks.close,
            CloseTaskInput(tenant=tenant.slug, task_id=str(uuid.uuid4()), status="completed"),
        )
    assert caught.value.type == "TaskNotFound" and caught.value.non_retryable

    request = _open(tenant)
    await env.run(tasks.open, request)
    other = _open(tenant_b)
    await env.run(tasks.open, other)
    foreign = CloseTaskInput(tenant=tenant_b.slug, task_id=request.task_id, status="completed")
    with pytest.raises(ApplicationError) as caught:
        await env.run(tasks.close, foreign)
    assert caught.value.type == "TaskNotFound"
    assert _read(sessions, tenant, request.task_id).status == "pending"


async def test_a_task_for_an_unknown_tenant_is_rejected(tasks: TaskActivities) -> None:
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(tasks.open, _open(TenantRef("none", "no-such-tenant")))
    assert caught.value.type == "TenantNotFound" and caught.value.non_retryable


async def test_the_same_task_id_in_another_tenant_is_rejected(
    tasks: TaskActivities, sessions: sessionmaker[Session], tenant: TenantRef
) -> None:
    request = _open(tenant)
    env = ActivityEnvironment()
    await env.run(tasks.open, request)
    stolen = _open(_make_tenant(sessions), task_id=request.task_id)
    with pytest.raises(ApplicationError) as caught:
        await env.run(tasks.open, stolen)
    assert caught.value.type == "TaskRejected" and caught.value.non_retryable
    assert _read(sessions, tenant, request.task_id).title == "Approve the refund"
