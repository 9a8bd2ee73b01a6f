"""Small factories: a tenant with a member of given roles, and that member's auth headers."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from auterity.db import transaction
from auterity.security.accounts import add_member, create_tenant, create_user


@dataclass(frozen=True)
class Member:
    tenant_id: str
    tenant_slug: str
    email: str
    password: str
    roles: tuple[str, ...]


def make_member(
    sessions: sessionmaker[Session],
    roles: tuple[str, ...] = ("owner",),
    *,
    tenant: Member | None = None,
) -> Member:
    """A user with `roles` in a new tenant, or in `tenant`'s tenant."""
    password = f"pw-{uuid.uuid4().hex}"
    email = f"user-{uuid.uuid4().hex[:10]}@example.com"
    with transaction(sessions) as session:
        if tenant is None:
            row = create_tenant(session, f"t-{uuid.uuid4().hex[:10]}")
            tenant_id, slug = row.id, row.slug
        else:
            tenant_id, slug = tenant.tenant_id, tenant.tenant_slug
        user = create_user(session, email, name=email.split("@")[0], password=password)
        add_member(session, tenant_id, user, roles)
    return Member(tenant_id, slug, email, password, roles)


async def auth_headers(api: httpx.AsyncClient, member: Member) -> dict[str, str]:
    response = await api.post(
        "/v1/auth/login",
        json={"email": member.email, "password": member.password, "tenant": member.tenant_slug},
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def save_graph(api: httpx.AsyncClient, headers: dict[str, str], graph: dict[str, Any]) -> str:
    """Save a graph over HTTP; its id."""
    response = await api.post("/v1/graphs", json=graph, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def wait_for_task(
    api: httpx.AsyncClient, headers: dict[str, str], execution_id: str
) -> dict[str, Any]:
    """The first task of `execution_id` in the caller's inbox, once the run has opened it."""
    for _ in range(200):
        inbox = (await api.get("/v1/tasks", headers=headers)).json()
        tasks = [task for task in inbox if task["execution_id"] == execution_id]
        if tasks:
            return tasks[0]  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no task of {execution_id} reached the inbox")


async def wait_for_execution(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    execution_id: str,
    status: str | None = None,
    *,
    seconds: float = 20,
) -> dict[str, Any]:
    """The execution once it has `status` (or, when None, once it is no longer running)."""
    body: dict[str, Any] = {}
    for _ in range(int(seconds / 0.1)):
        body = (await api.get(f"/v1/executions/{execution_id}", headers=headers)).json()
        if body["status"] == status if status else body["status"] != "running":
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"{execution_id} never became {status or 'finished'}: {body}")
