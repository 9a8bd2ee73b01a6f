"""Human tasks: the tenant's inbox; completing one is a Temporal Update the run validates."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.auth import ExecutionsReader, TasksCompleter
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.schemas import Offset
from api.schemas.tasks import ResumeDecision, ResumeLink, ResumeLinkCreate, TaskComplete, TaskRead
from api.services import tasks as service
from auterity.audit import AuditContext
from auterity.models.tasks import TASK_STATUSES

router = APIRouter(prefix="/tasks", tags=["tasks"])


@router.get("", response_model=list[TaskRead])
def list_tasks(
    session: SessionDep,
    principal: ExecutionsReader,
    status: Annotated[str, Query(description=f"One of {', '.join(TASK_STATUSES)}")] = "pending",
    execution_id: Annotated[str | None, Query(max_length=255)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> list[TaskRead]:
    """The principal's inbox: tasks assigned to them by user or role (owners and admins see
    all), newest first; page with `offset`."""
    tasks = service.list_inbox(
        session, principal, status=status, execution_id=execution_id, limit=limit, offset=offset
    )
    return [TaskRead.model_validate(task, from_attributes=True) for task in tasks]


@router.post("/{task_id}/complete", response_model=TaskRead)
async def complete_task(
    task_id: str,
    body: TaskComplete,
    session: SessionDep,
    client: TemporalDep,
    principal: TasksCompleter,
    request: Request,
) -> TaskRead:
    """Decide a task: the run validates the decision (Update) and answers before this returns."""
    task = await service.complete_task(
        session, client, principal, task_id, body, AuditContext.of(request)
    )
    return TaskRead.model_validate(task, from_attributes=True)


@router.post("/{task_id}/resume-links", status_code=201, response_model=ResumeLink)
def create_resume_link(
    task_id: str,
    body: ResumeLinkCreate,
    session: SessionDep,
    settings: SettingsDep,
    principal: TasksCompleter,
    request: Request,
) -> ResumeLink:
    """A signed, expiring link (for an email) that lets one assignee decide without signing in."""
    token, expires = service.create_resume_link(
        session, settings, principal, task_id, body, AuditContext.of(request)
    )
    base = settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    return ResumeLink(url=f"{base}/v1/tasks/resume?token={token}", token=token, expires_at=expires)


@router.get("/resume", response_model=TaskRead)
def read_resumable_task(
    session: SessionDep, settings: SettingsDep, token: Annotated[str, Query(min_length=20)]
) -> TaskRead:
    """The task a signed resume link points at (no sign-in: the link is the credential)."""
    _claims, task = service.resumable(session, settings, token)
    return TaskRead.model_validate(task, from_attributes=True)


@router.post("/resume", response_model=TaskRead)
async def complete_resumable_task(
    body: ResumeDecision,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
    request: Request,
) -> TaskRead:
    """Decide a task through a signed resume link; the link's assignee is recorded as approver."""
    task = await service.complete_by_link(session, settings, client, body, AuditContext.of(request))
    return TaskRead.model_validate(task, from_attributes=True)


# Declared after /resume so that 'resume' is never taken for a task id.
@router.get("/{task_id}", response_model=TaskRead)
def read_task(task_id: str, session: SessionDep, _principal: ExecutionsReader) -> TaskRead:
    """One task with its form schema and context."""
    return TaskRead.model_validate(service.get_task(session, task_id), from_attributes=True)
