"""Human tasks: the inbox, and deciding a task (by a signed-in principal or through a
signed resume link). A decision is a Temporal Update the run validates; it is recorded
on the task and on the audit trail once the run accepted it.

Who may act on a task: its assignees (`user:<email>`, `role:<name>`), and owners and
admins, who see every task.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import jwt
from sqlalchemy import ColumnElement, Text, cast, exists, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from api.problems import Conflict, Forbidden, NotFound, Unauthorized, Unprocessable
from api.schemas.tasks import ResumeDecision, ResumeLinkCreate, TaskComplete
from api.services import executions as execution_service
from api.services import graphs as graph_service
from api.services import one_or_404
from auterity import audit, metrics
from auterity.graph import naming
from auterity.graph.model import parse_duration
from auterity.graph.run import UPDATE_COMPLETE_TASK, TaskCompletion, TaskDecision
from auterity.models import utcnow
from auterity.models.tasks import TASK_STATUSES, HumanTask
from auterity.models.tenancy import User
from auterity.security import accounts
from auterity.security.crypto import KeyRing
from auterity.security.principal import Actor, Principal
from auterity.security.scoping import set_tenant
from auterity.settings import Settings

RESUME_AUDIENCE = "auterity-task-resume"
ALGORITHM = "HS256"
SEES_ALL = {"owner", "admin"}


@dataclass(frozen=True)
class ResumeClaims:
    task_id: str
    tenant_id: str
    tenant_slug: str
    actor: str
    expires_at: datetime
    user_id: str | None = None  # None in links minted before accounts were checked


def _keys(settings: Settings) -> KeyRing:
    return KeyRing.from_settings(settings, "task-resume")


def issue_resume_token(
    settings: Settings, task: HumanTask, tenant_slug: str, account: User, ttl: timedelta
) -> tuple[str, datetime]:
    """A signed, expiring token that lets `account` decide `task` without signing in."""
    now = datetime.now(UTC)
    expires = now + ttl
    if task.due_at is not None:
        expires = min(expires, task.due_at.replace(tzinfo=task.due_at.tzinfo or UTC))
    keys = _keys(settings)
    claims = {
        "aud": RESUME_AUDIENCE, "sub": f"user:{account.email}", "uid": account.id,
        "task": task.id, "tenant": task.tenant_id, "slug": tenant_slug,
        "iat": int(now.timestamp()), "exp": int(expires.timestamp()),
    }  # fmt: skip
    token = jwt.encode(claims, keys.current, algorithm=ALGORITHM, headers={"kid": keys.current_id})
    return token, expires


def read_resume_token(settings: Settings, token: str) -> ResumeClaims:
    """The verified claims, or 401 (expired, tampered, another key or algorithm)."""
    try:
        kid = str(jwt.get_unverified_header(token).get("kid", ""))
        key = _keys(settings).get(kid)
        if key is None:
            raise jwt.InvalidKeyError("unknown key id")
        claims = jwt.decode(
            token, key, algorithms=[ALGORITHM], audience=RESUME_AUDIENCE,
            options={"require": ["exp", "aud", "sub", "task", "tenant", "slug"]},
        )  # fmt: skip
    except jwt.PyJWTError as exc:
        expired = isinstance(exc, jwt.ExpiredSignatureError)
        metrics.token_refused("resume_link", "expired" if expired else "invalid")
        raise Unauthorized("the resume link is invalid or has expired") from None
    return ResumeClaims(
        task_id=claims["task"], tenant_id=claims["tenant"], tenant_slug=claims["slug"],
        actor=claims["sub"], expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        user_id=claims.get("uid") if isinstance(claims.get("uid"), str) else None,
    )  # fmt: skip


def check_form(task: HumanTask, data: dict[str, Any]) -> None:
    errors = [
        {"loc": ["body", "data", *error.absolute_path], "msg": error.message}
        for error in jsonschema.Draft202012Validator(task.form or {}).iter_errors(data)
    ]
    if errors:
        raise Unprocessable(
            f"data does not match the task's form: {errors[0]['msg']}", errors=errors
        )


async def ensure_not_starter(
    session: Session,
    client: Client,
    task: HumanTask,
    tenant_slug: str,
    actor: str,
    actor_ids: set[str],
) -> None:
    """403 when the approval node forbids the run's starter to decide and the deciding
    account started it: by its email (`actor`), its user id, or an API key of its own
    (`actor_ids`)."""
    handle = execution_service.handle_for(client, tenant_slug, task.execution_id)
    description = await handle.describe()
    attributes = description.typed_search_attributes
    graph_id = attributes.get(naming.GRAPH)
    version_id = attributes.get(naming.GRAPH_VERSION)
    if not graph_id or not version_id:
        return
    version = await asyncio.to_thread(graph_service.get_version, session, graph_id, version_id)
    node = next((n for n in version.definition["nodes"] if n["id"] == task.node_id), None)
    if node is None or node.get("config", {}).get("allow_starter", True):
        return
    memo = await description.memo()
    starters = {memo.get(key) for key in ("started_by", "started_by_name", "started_by_user")}
    if (actor_ids & starters) or actor.removeprefix("user:") in starters:
        raise Forbidden(
            f"task '{task.id}' may not be decided by the person who started the run "
            f"(node '{task.node_id}' sets allow_starter: false)"
        )


async def complete(
    session: Session,
    client: Client,
    task: HumanTask,
    tenant_slug: str,
    *,
    decision: str,
    comment: str | None,
    data: dict[str, Any],
    actor: str,
) -> TaskCompletion:
    """Deliver the decision as a Temporal Update (the run validates it), then record it."""
    if task.status != "pending":
        raise Conflict(f"task '{task.id}' is already {task.status}")
    check_form(task, data)
    handle = execution_service.handle_for(client, tenant_slug, task.execution_id)
    request = TaskDecision(
        task_id=task.id, decision=decision, comment=comment, data=data, actor=actor
    )
    try:
        completion: TaskCompletion = await handle.execute_update(
            UPDATE_COMPLETE_TASK, request, result_type=TaskCompletion
        )
    except WorkflowUpdateFailedError as exc:
        message = getattr(exc.cause, "message", None) or str(exc.cause or exc)
        if "decision" in message or "outcome" in message:
            raise Unprocessable(
                message, errors=[{"loc": ["body", "decision"], "msg": message}]
            ) from None
        raise Conflict(message) from None
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise Conflict(f"the run of task '{task.id}' has finished") from None
        raise
    task.status = "completed"
    task.decision = completion.decision
    task.comment = comment
    task.data = data
    task.completed_by = actor
    task.completed_at = utcnow()
    return completion


# --- the inbox ------------------------------------------------------------------------------


def identities(principal: Principal) -> set[str]:
    """How assignees may name this principal: `user:<email>` and `role:<name>`."""
    return {f"user:{principal.name}"} | {f"role:{role}" for role in principal.roles}


def assigned_account(session: Session, task: HumanTask, email: str, user_id: str | None) -> User:
    """The active member a resume link is for, if the task is assigned to them by email or
    through one of their roles; else 422. One answer for an unknown address, a person of
    another tenant and a member the task is not assigned to."""
    user = session.get(User, user_id) if user_id else accounts.user_by_email(session, email)
    membership = accounts.membership_of(session, user.id) if user is not None else None
    if (
        user is not None
        and user.is_active
        and membership is not None
        and membership.is_active
        and ({f"user:{user.email}"} | {f"role:{role}" for role in membership.roles})
        & set(task.assignees)
    ):
        return user
    message = f"user:{email} is not an active member of this tenant assigned to task '{task.id}'"
    raise Unprocessable(message, errors=[{"loc": ["body", "assignee"], "msg": message}])


def may_act(principal: Principal, task: HumanTask) -> bool:
    return bool(SEES_ALL & set(principal.roles)) or bool(
        identities(principal) & set(task.assignees)
    )


def get_task(session: Session, task_id: str) -> HumanTask:
    return one_or_404(session, HumanTask, task_id, f"task '{task_id}'")


def list_inbox(
    session: Session,
    principal: Principal,
    *,
    status: str,
    execution_id: str | None,
    limit: int,
    offset: int = 0,
) -> list[HumanTask]:
    """The tasks the principal may act on, newest first, one page (filtered in SQL)."""
    if status not in TASK_STATUSES:
        raise Unprocessable(
            f"status must be one of {', '.join(TASK_STATUSES)}",
            errors=[{"loc": ["query", "status"], "msg": "unknown status"}],
        )
    query = select(HumanTask).where(HumanTask.status == status)
    if execution_id:
        query = query.where(HumanTask.execution_id == execution_id)
    if not SEES_ALL & set(principal.roles):
        query = query.where(assigned_to_any(session, sorted(identities(principal))))
    query = query.order_by(HumanTask.created_at.desc(), HumanTask.id)
    return list(session.scalars(query.limit(limit).offset(offset)))


def assigned_to_any(session: Session, names: list[str]) -> ColumnElement[bool]:
    """SQL: the task's `assignees` (a JSON list) holds one of `names`, so the database
    filters and pages the inbox rather than Python after loading every task."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(HumanTask.assignees, JSONB).op("?|")(
            cast(postgresql.array(names), postgresql.ARRAY(Text))
        )
    each = func.json_each(HumanTask.assignees).table_valued("value")
    return exists(select(1).select_from(each).where(each.c.value.in_(names)))


def _assigned(principal: Principal, task: HumanTask) -> None:
    if not may_act(principal, task):
        raise Forbidden(f"task '{task.id}' is assigned to {', '.join(task.assignees)}")


async def complete_task(
    session: Session,
    client: Client,
    principal: Principal,
    task_id: str,
    body: TaskComplete,
    context: audit.AuditContext,
) -> HumanTask:
    """Decide a task as a signed-in principal; recorded once the run accepted it."""
    task = await asyncio.to_thread(get_task, session, task_id)
    _assigned(principal, task)
    actor = f"user:{principal.name}" if principal.kind == "user" else f"api_key:{principal.id}"
    await ensure_not_starter(
        session, client, task, principal.tenant_slug, actor,
        {principal.id, principal.user_id} - {None},  # type: ignore[arg-type]
    )  # fmt: skip
    completion = await complete(
        session, client, task, principal.tenant_slug, decision=body.decision,
        comment=body.comment, data=body.data, actor=actor,
    )  # fmt: skip
    await asyncio.to_thread(
        lambda: audit.record(
            session, principal, "task.complete", request=context,
            targets=[audit.Target("task", task_id, task.title),
                     audit.Target("execution", task.execution_id)],
            details={"decision": completion.decision, "node": task.node_id},
        )
    )  # fmt: skip
    return task


# --- resume links ---------------------------------------------------------------------------


def create_resume_link(
    session: Session,
    settings: Settings,
    principal: Principal,
    task_id: str,
    body: ResumeLinkCreate,
    context: audit.AuditContext,
) -> tuple[str, datetime]:
    """A signed token (and its expiry) that lets one assignee decide a pending task."""
    task = get_task(session, task_id)
    if task.status != "pending":
        raise Conflict(f"task '{task_id}' is already {task.status}")
    _assigned(principal, task)
    account = assigned_account(session, task, body.assignee.removeprefix("user:"), None)
    token, expires = issue_resume_token(
        settings, task, principal.tenant_slug, account, parse_duration(body.expires_in)
    )
    audit.record(
        session, principal, "task.resume_link", request=context,
        targets=[audit.Target("task", task_id, task.title),
                 audit.Target("user", account.id, account.email)],
        details={"assignee": f"user:{account.email}", "expires_at": expires.isoformat()},
    )  # fmt: skip
    return token, expires


def resumable(session: Session, settings: Settings, token: str) -> tuple[ResumeClaims, HumanTask]:
    """The task a resume token names, with the session scoped to its tenant (the link is
    the credential); 401 for a bad token, 404 when the task is gone."""
    claims = read_resume_token(settings, token)
    set_tenant(session, claims.tenant_id)
    task = session.get(HumanTask, claims.task_id)
    if task is None:
        raise NotFound("the task of this link no longer exists")
    return claims, task


async def complete_by_link(
    session: Session,
    settings: Settings,
    client: Client,
    body: ResumeDecision,
    context: audit.AuditContext,
) -> HumanTask:
    """Decide a task through a resume link; the link's account is recorded as approver, and
    must still be an active member assigned to the task (else 403)."""

    def find() -> tuple[ResumeClaims, HumanTask, User]:
        claims, task = resumable(session, settings, body.token)
        try:
            email = claims.actor.removeprefix("user:")
            return claims, task, assigned_account(session, task, email, claims.user_id)
        except Unprocessable:
            raise Forbidden(f"the link's assignee may no longer decide task '{task.id}'") from None

    claims, task, account = await asyncio.to_thread(find)
    actor = f"user:{account.email}"
    await ensure_not_starter(session, client, task, claims.tenant_slug, actor, {account.id})
    completion = await complete(
        session, client, task, claims.tenant_slug, decision=body.decision,
        comment=body.comment, data=body.data, actor=actor,
    )  # fmt: skip
    await asyncio.to_thread(
        lambda: audit.record(
            session, Actor(type="user", id=account.id, name=account.email),
            "task.complete", request=context,
            targets=[audit.Target("task", task.id, task.title),
                     audit.Target("execution", task.execution_id)],
            details={"decision": completion.decision, "node": task.node_id, "via": "resume_link"},
        )
    )  # fmt: skip
    return task
