"""`task.open` and `task.close`: the approval node's writes to the human-task inbox.

Both are idempotent so Temporal may retry them freely: opening an existing task
id changes nothing, closing a closed task keeps its first outcome.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from auterity.db import transaction
from auterity.graph.contracts import (
    TASK_CLOSE,
    TASK_OPEN,
    CloseTaskInput,
    OpenTaskInput,
    OpenTaskOutput,
)
from auterity.graph.errors import ErrorType
from auterity.models.base import utcnow
from auterity.models.tasks import HumanTask
from auterity.models.tenancy import Tenant


class TaskActivities:
    """Writes human tasks through tenant-scoped `sessions` (blocking work runs in a thread)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    @activity.defn(name=TASK_OPEN)
    async def open(self, request: OpenTaskInput) -> OpenTaskOutput:
        return await asyncio.to_thread(self._open, request)

    @activity.defn(name=TASK_CLOSE)
    async def close(self, request: CloseTaskInput) -> None:
        await asyncio.to_thread(self._close, request)

    def _open(self, request: OpenTaskInput) -> OpenTaskOutput:
        tenant_id = self._tenant_id(request.tenant)
        try:
            with transaction(self.sessions, tenant_id) as session:
                if session.get(HumanTask, request.task_id) is not None:
                    return OpenTaskOutput(task_id=request.task_id, created=False)
                session.add(
                    HumanTask(
                        id=request.task_id,
                        tenant_id=tenant_id,
                        execution_id=request.execution_id,
                        node_id=request.node_id,
                        title=request.title,
                        description=request.description,
                        assignees=list(request.assignees),
                        form=request.form,
                        context=request.context,
                        status="pending",
                        due_at=request.due_at,
                    )
                )
        except IntegrityError as exc:
            with transaction(self.sessions, tenant_id) as session:
                if session.get(HumanTask, request.task_id) is not None:
                    return OpenTaskOutput(task_id=request.task_id, created=False)
            raise ApplicationError(
                f"task {request.task_id} for node '{request.node_id}' was rejected by the "
                f"database: {str(exc.orig).splitlines()[0]}",
                type=ErrorType.TASK_REJECTED,
                non_retryable=True,
            ) from None
        return OpenTaskOutput(task_id=request.task_id, created=True)

    def _close(self, request: CloseTaskInput) -> None:
        with transaction(self.sessions, self._tenant_id(request.tenant)) as session:
            task = session.get(HumanTask, request.task_id, with_for_update=True)
            if task is None:
                raise ApplicationError(
                    f"task {request.task_id} does not exist",
                    type=ErrorType.TASK_NOT_FOUND,
                    non_retryable=True,
                )
            if task.status != "pending":
                return
            task.status = request.status
            task.decision = request.decision
            task.comment = request.comment
            task.data = request.data
            task.completed_by = request.actor
            task.completed_at = utcnow()

    def _tenant_id(self, slug: str) -> str:
        """The id of the tenant whose slug the run carries (workflow ids start with it)."""
        with self.sessions() as session:
            tenant_id = session.scalars(select(Tenant.id).where(Tenant.slug == slug)).one_or_none()
        if tenant_id is None:
            raise ApplicationError(
                f"tenant {slug!r} does not exist",
                type=ErrorType.TENANT_NOT_FOUND,
                non_retryable=True,
            )
        return tenant_id
