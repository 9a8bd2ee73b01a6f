"""Human tasks: the tenant's inbox; completing one is a Temporal Update the run validates."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from api.auth import ExecutionsReader, TasksCompleter
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.problems import Conflict, Forbidden, NotFound, Unprocessable
from api.schemas import Body
from api.services import tasks as service
from auterity import audit
from auterity.audit import Target
from auterity.graph.model import Duration, parse_duration
from auterity.models.tasks import TASK_STATUSES, HumanTask
from auterity.security.principal import Actor, Principal
from auterity.security.scoping import set_tenant

router = APIRouter(prefix="/v1/tasks", tags=["tasks"])

SEES_ALL = {"owner", "admin"}


class TaskRead(BaseModel):
    id: str
    execution_id: str
    node_id: str
    title: str
    description: str
    assignees: list[str]
    form: dict[str, Any]
    context: dict[str, Any]
    status: str
    decision: str | None
    comment: str | None
    data: dict[str, Any] | None
    completed_by: str | None
    created_at: Any
    due_at: Any
    completed_at: Any


class TaskComplete(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "decision": "approved",
                    "comment": "Looks right to me.",
                    "data": {"note": "escalated to tier 2"},
                },
                {"decision": "rejected", "comment": "Not a customer of ours."},
            ]
        }
    )

    decision: str = Field(min_length=1, max_length=200, examples=["approved"])
    comment: str | None = Field(default=None, max_length=10_000)
    data: dict[str, Any] = Field(default_factory=dict)


def task_read(task: HumanTask) -> TaskRead:
    return TaskRead.model_validate(task, from_attributes=True)


def identities(principal: Principal) -> set[str]:
    """How assignees may name this principal: `user:<email>` and `role:<name>`."""
    return {f"user:{principal.name}"} | {f"role:{role}" for role in principal.roles}


def may_act(principal: Principal, task: HumanTask) -> bool:
    return bool(SEES_ALL & set(principal.roles)) or bool(
        identities(principal) & set(task.assignees)
    )


def get_task(session: SessionDep, task_id: str) -> HumanTask:
    task = session.get(HumanTask, task_id)
    if task is None:
        raise NotFound(f"task '{task_id}' not found")
    return task


@router.get("", response_model=list[TaskRead])
def list_tasks(
    session: SessionDep,
    principal: ExecutionsReader,
    status: Annotated[str, Query(description=f"One of {', '.join(TASK_STATUSES)}")] = "pending",
    execution_id: Annotated[str | None, Query(max_length=255)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[TaskRead]:
    """The principal's inbox: tasks assigned to them by user or role (owners and admins see all)."""
    if status not in TASK_STATUSES:
        raise Unprocessable(
            f"status must be one of {', '.join(TASK_STATUSES)}",
            errors=[{"loc": ["query", "status"], "msg": "unknown status"}],
        )
    query = select(HumanTask).where(HumanTask.status == status)
    if execution_id:
        query = query.where(HumanTask.execution_id == execution_id)
    tasks = session.scalars(query.order_by(HumanTask.created_at.desc()))
    return [task_read(task) for task in tasks if may_act(principal, task)][:limit]


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
    task = get_task(session, task_id)
    if not may_act(principal, task):
        raise Forbidden(f"task '{task_id}' is assigned to {', '.join(task.assignees)}")
    actor = f"user:{principal.name}" if principal.kind == "user" else f"api_key:{principal.id}"
    await service.ensure_not_starter(
        session, client, task, principal.tenant_slug, actor, principal.id
    )
    completion = await service.complete(
        session, client, task, principal.tenant_slug, decision=body.decision,
        comment=body.comment, data=body.data, actor=actor,
    )  # fmt: skip
    audit.record(
        session, principal, "task.complete", request=request,
        targets=[Target("task", task_id, task.title), Target("execution", task.execution_id)],
        details={"decision": completion.decision, "node": task.node_id},
    )  # fmt: skip
    return task_read(task)


class ResumeLinkCreate(Body):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"assignee": "user:ada@example.com", "expires_in": "2d"}]}
    )

    assignee: str = Field(
        pattern=r"^user:[^@\s]+@[^@\s]+$", description='Who may decide: "user:<email>"'
    )
    expires_in: Duration = Field(default="3d", description="At most until the task is due")


class ResumeLink(BaseModel):
    url: str
    token: str
    expires_at: datetime


class ResumeDecision(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "token": "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIn0.eyJhdWQiOiJhdXRlcml0eTpyZXN1bWUi"
                    "LCJzdWIiOiJ1c2VyOmFkYUBleGFtcGxlLmNvbSJ9.2wT0kq1xY3mQ8nV5bR7cL9pZ4sH6jF0dE1gA",
                    "decision": "approved",
                    "comment": "Refund is within policy.",
                    "data": {"note": "checked the order history"},
                }
            ]
        }
    )

    token: str = Field(min_length=20, max_length=4000)
    decision: str = Field(min_length=1, max_length=200)
    comment: str | None = Field(default=None, max_length=10_000)
    data: dict[str, Any] = Field(default_factory=dict)


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
    task = get_task(session, task_id)
    if task.status != "pending":
        raise Conflict(f"task '{task_id}' is already {task.status}")
    if not may_act(principal, task):
        raise Forbidden(f"task '{task_id}' is assigned to {', '.join(task.assignees)}")
    token, expires = service.issue_resume_token(
        settings, task, principal.tenant_slug, body.assignee, parse_duration(body.expires_in)
    )
    audit.record(
        session, principal, "task.resume_link", request=request,
        targets=[Target("task", task_id, task.title)],
        details={"assignee": body.assignee, "expires_at": expires.isoformat()},
    )  # fmt: skip
    base = settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    return ResumeLink(url=f"{base}/v1/tasks/resume?token={token}", token=token, expires_at=expires)


def _resumable(session: SessionDep, token: str, settings: SettingsDep) -> tuple[Any, HumanTask]:
    claims = service.read_resume_token(settings, token)
    set_tenant(session, claims.tenant_id)
    task = session.get(HumanTask, claims.task_id)
    if task is None:
        raise NotFound("the task of this link no longer exists")
    return claims, task


@router.get("/resume", response_model=TaskRead)
def read_resumable_task(
    session: SessionDep, settings: SettingsDep, token: Annotated[str, Query(min_length=20)]
) -> TaskRead:
    """The task a signed resume link points at (no sign-in: the link is the credential)."""
    _claims, task = _resumable(session, token, settings)
    return task_read(task)


@router.post("/resume", response_model=TaskRead)
async def complete_resumable_task(
    body: ResumeDecision,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
    request: Request,
) -> TaskRead:
    """Decide a task through a signed resume link; the link's assignee is recorded as approver."""
    claims, task = _resumable(session, body.token, settings)
    await service.ensure_not_starter(session, client, task, claims.tenant_slug, claims.actor, None)
    completion = await service.complete(
        session, client, task, claims.tenant_slug, decision=body.decision,
        comment=body.comment, data=body.data, actor=claims.actor,
    )  # fmt: skip
    audit.record(
        session, Actor(type="user", id=None, name=claims.actor.removeprefix("user:")),
        "task.complete", request=request,
        targets=[Target("task", task.id, task.title), Target("execution", task.execution_id)],
        details={"decision": completion.decision, "node": task.node_id, "via": "resume_link"},
    )  # fmt: skip
    return task_read(task)


# Declared after /resume so that 'resume' is never taken for a task id.
@router.get("/{task_id}", response_model=TaskRead)
def read_task(task_id: str, session: SessionDep, _principal: ExecutionsReader) -> TaskRead:
    """One task with its form schema and context."""
    return task_read(get_task(session, task_id))
