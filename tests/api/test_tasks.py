"""Human tasks over HTTP (routes/tasks.py) against a real worker and Temporal server: the
inbox, deciding a task, signed resume links, separation of duties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import event

from auterity.db import transaction
from auterity.models.tasks import HumanTask
from tests.factories import (
    auth_headers,
    make_member,
    save_graph,
    wait_for_execution,
    wait_for_task,
)

pytestmark = pytest.mark.usefixtures("api_worker")


APPROVAL = {
    "name": "approve-it",
    "nodes": [
        {"id": "ask", "type": "approval", "config": {
            "assignees": ["role:approver"], "title": "Ship it?",
            "form": {"type": "object", "properties": {"reason": {"type": "string"}},
                     "required": ["reason"]}}},
        {"id": "done", "type": "transform", "config": {"value": "{{ nodes.ask.output.decision }}"}},
    ],
    "edges": [{"from": "ask", "to": "done", "when": "approved"}],
}  # fmt: skip


async def test_human_task_inbox_and_completion(api: httpx.AsyncClient, sessions, owner) -> None:
    member, headers = owner
    approver = await auth_headers(api, make_member(sessions, ("approver",), tenant=member))
    viewer = await auth_headers(api, make_member(sessions, ("viewer",), tenant=member))
    graph_id = await save_graph(api, headers, APPROVAL)
    execution_id = (
        await api.post(f"/v1/graphs/{graph_id}/executions", json={}, headers=headers)
    ).json()["id"]
    task = await wait_for_task(api, approver, execution_id)
    assert task["title"] == "Ship it?" and task["status"] == "pending"
    path = f"/v1/tasks/{task['id']}/complete"
    assert (
        await api.post(
            path, json={"decision": "approved", "data": {"reason": "ok"}}, headers=viewer
        )
    ).status_code == 403
    bad = await api.post(path, json={"decision": "approved", "data": {}}, headers=approver)
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["body", "data"]
    unknown = await api.post(
        path, json={"decision": "maybe", "data": {"reason": "x"}}, headers=approver
    )
    assert unknown.status_code in (409, 422), unknown.text
    done = await api.post(
        path, json={"decision": "approved", "data": {"reason": "ok"}}, headers=approver
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed" and done.json()["completed_by"].startswith("user:")
    twice = await api.post(
        path, json={"decision": "approved", "data": {"reason": "ok"}}, headers=approver
    )
    assert twice.status_code == 409
    finished = await wait_for_execution(api, headers, execution_id, "completed")
    assert finished["nodes"]["ask"]["label"] == "approved"
    assert finished["nodes"]["done"]["output"] == "approved"


async def test_resume_link_decides_without_signing_in(
    api: httpx.AsyncClient, sessions, owner
) -> None:
    member, headers = owner
    graph_id = await save_graph(api, headers, APPROVAL)
    execution_id = (
        await api.post(f"/v1/graphs/{graph_id}/executions", json={}, headers=headers)
    ).json()["id"]
    tasks = [await wait_for_task(api, headers, execution_id)]
    task_id = tasks[0]["id"]
    boss = make_member(sessions, ("approver",), tenant=member)
    link = await api.post(
        f"/v1/tasks/{task_id}/resume-links",
        json={"assignee": f"user:{boss.email}"},
        headers=headers,
    )
    assert link.status_code == 201, link.text
    token = link.json()["token"]
    assert link.json()["url"].endswith(f"/v1/tasks/resume?token={token}")

    shown = await api.get("/v1/tasks/resume", params={"token": token})
    assert shown.status_code == 200 and shown.json()["id"] == task_id
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert (await api.get("/v1/tasks/resume", params={"token": tampered})).status_code == 401
    stranger = await auth_headers(api, make_member(sessions))
    assert (await api.post(
        f"/v1/tasks/{task_id}/resume-links", json={"assignee": "user:x@example.com"}, headers=stranger
    )).status_code == 404  # fmt: skip

    decided = await api.post(
        "/v1/tasks/resume",
        json={"token": token, "decision": "approved", "data": {"reason": "fine"}},
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["completed_by"] == f"user:{boss.email}"
    again = await api.post(
        "/v1/tasks/resume",
        json={"token": token, "decision": "approved", "data": {"reason": "fine"}},
    )
    assert again.status_code == 409
    finished = await wait_for_execution(api, headers, execution_id, "completed")
    assert finished["nodes"]["done"]["output"] == "approved"
    audit = (await api.get("/v1/audit", params={"action": "task.complete"}, headers=headers)).json()
    entries = audit["items"] if isinstance(audit, dict) else audit
    assert any(entry["actor"]["name"] == boss.email and entry["actor"]["id"] for entry in entries)


async def test_the_starter_cannot_approve_when_the_node_says_so(api, sessions, owner) -> None:
    member, headers = owner
    strict = {**APPROVAL, "nodes": [
        {**APPROVAL["nodes"][0], "config": {**APPROVAL["nodes"][0]["config"],
                                            "assignees": ["role:owner"], "allow_starter": False}},
        APPROVAL["nodes"][1]]}  # fmt: skip
    graph_id = await save_graph(api, headers, strict)
    execution_id = (
        await api.post(f"/v1/graphs/{graph_id}/executions", json={}, headers=headers)
    ).json()["id"]
    tasks = [await wait_for_task(api, headers, execution_id)]
    path = f"/v1/tasks/{tasks[0]['id']}/complete"
    decision = {"decision": "approved", "data": {"reason": "mine"}}
    refused = await api.post(path, json=decision, headers=headers)
    assert refused.status_code == 403
    assert "allow_starter" in refused.json()["detail"]
    colleague = await auth_headers(api, make_member(sessions, ("owner",), tenant=member))
    accepted = await api.post(path, json=decision, headers=colleague)
    assert accepted.status_code == 200, accepted.text


async def test_resume_links_only_for_real_assignees(
    api: httpx.AsyncClient, sessions, owner
) -> None:
    """Attack: an approver mints a link for an invented address (or a colleague the task is
    not assigned to, or someone of another tenant) and decides through it, recorded under
    that name. Links go only to active members assigned by email or role, and the decision
    is recorded as that account."""
    member, headers = owner
    approver = make_member(sessions, ("approver",), tenant=member)
    approver_headers = await auth_headers(api, approver)
    viewer = make_member(sessions, ("viewer",), tenant=member)
    outsider = make_member(sessions, ("approver",))  # same role name, another tenant
    graph_id = await save_graph(api, headers, APPROVAL)
    execution_id = (
        await api.post(f"/v1/graphs/{graph_id}/executions", json={}, headers=headers)
    ).json()["id"]
    task = await wait_for_task(api, approver_headers, execution_id)
    path = f"/v1/tasks/{task['id']}/resume-links"
    for assignee in ("user:invented@example.com", f"user:{viewer.email}", f"user:{outsider.email}"):
        minted = await api.post(path, json={"assignee": assignee}, headers=approver_headers)
        assert minted.status_code == 422, (assignee, minted.text)
        assert minted.json()["errors"][0]["loc"] == ["body", "assignee"]
    colleague = make_member(sessions, ("approver",), tenant=member)
    minted = await api.post(
        path, json={"assignee": f"user:{colleague.email}"}, headers=approver_headers
    )
    assert minted.status_code == 201, minted.text
    decided = await api.post(
        "/v1/tasks/resume",
        json={"token": minted.json()["token"], "decision": "approved", "data": {"reason": "ok"}},
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["completed_by"] == f"user:{colleague.email}"
    audit = await api.get("/v1/audit", params={"action": "task.complete"}, headers=headers)
    [entry] = [e for e in audit.json()["items"] if e["targets"][0]["id"] == task["id"]]
    users = (await api.get("/v1/users", headers=headers)).json()["items"]
    colleague_id = next(user["id"] for user in users if user["email"] == colleague.email)
    assert entry["actor"] == {"type": "user", "id": colleague_id, "name": colleague.email}


async def test_a_link_cannot_launder_the_starters_own_decision(
    api: httpx.AsyncClient, sessions, owner
) -> None:
    """Attack: with allow_starter false, the starter mints a link (for themselves, or for an
    address they invent) and decides through it. The link's account is checked as the
    decider; and an assignee who lost the role since the link was minted is refused."""
    member, headers = owner
    strict = {**APPROVAL, "nodes": [
        {**APPROVAL["nodes"][0], "config": {**APPROVAL["nodes"][0]["config"],
                                            "assignees": ["role:owner"], "allow_starter": False}},
        APPROVAL["nodes"][1]]}  # fmt: skip
    graph_id = await save_graph(api, headers, strict)
    execution_id = (
        await api.post(f"/v1/graphs/{graph_id}/executions", json={}, headers=headers)
    ).json()["id"]
    task = await wait_for_task(api, headers, execution_id)
    path = f"/v1/tasks/{task['id']}/resume-links"
    invented = await api.post(path, json={"assignee": "user:alibi@example.com"}, headers=headers)
    assert invented.status_code == 422
    own = await api.post(path, json={"assignee": f"user:{member.email}"}, headers=headers)
    assert own.status_code == 201, own.text
    decision = {"decision": "approved", "data": {"reason": "mine"}}
    refused = await api.post("/v1/tasks/resume", json={"token": own.json()["token"], **decision})
    assert refused.status_code == 403 and "allow_starter" in refused.json()["detail"]

    colleague = make_member(sessions, ("owner",), tenant=member)
    link = await api.post(path, json={"assignee": f"user:{colleague.email}"}, headers=headers)
    assert link.status_code == 201, link.text
    users = (await api.get("/v1/users", headers=headers)).json()["items"]
    colleague_id = next(user["id"] for user in users if user["email"] == colleague.email)
    demoted = await api.patch(
        f"/v1/users/{colleague_id}", json={"roles": ["viewer"]}, headers=headers
    )
    assert demoted.status_code == 200, demoted.text
    stale = await api.post("/v1/tasks/resume", json={"token": link.json()["token"], **decision})
    assert stale.status_code == 403, stale.text


async def test_the_inbox_is_filtered_and_paged_by_the_database(
    api: httpx.AsyncClient, sessions, owner
) -> None:
    """Attack: a tenant's editor opens thousands of tasks for someone else; every inbox read
    of everyone loaded them all to filter in Python. Now the database filters and pages:
    a page loads the rows it returns, no more."""
    member, _headers = owner
    approver = make_member(sessions, ("approver",), tenant=member)
    approver_headers = await auth_headers(api, approver)
    start = datetime.now(UTC)
    with transaction(sessions, member.tenant_id) as session:
        for n in range(400):
            session.add(HumanTask(
                execution_id=f"{member.tenant_slug}:gr_x:other{n}", node_id="ask",
                title=f"other {n}", assignees=["role:nobody"],
                created_at=start + timedelta(seconds=n)))  # fmt: skip
        for n, assignees in enumerate(
            ([f"user:{approver.email}"], ["role:approver"], ["role:x", f"user:{approver.email}"])
        ):
            session.add(HumanTask(
                execution_id=f"{member.tenant_slug}:gr_x:mine{n}", node_id="ask",
                title=f"mine {n}", assignees=assignees,
                created_at=start + timedelta(seconds=n * 200)))  # fmt: skip
    loaded: list[str] = []

    def count(target: HumanTask, _context: object) -> None:
        loaded.append(target.id)

    event.listen(HumanTask, "load", count)
    try:
        first = await api.get("/v1/tasks", params={"limit": 2}, headers=approver_headers)
        loads_of_first_page = len(loaded)
        second = await api.get(
            "/v1/tasks", params={"limit": 2, "offset": 2}, headers=approver_headers
        )
    finally:
        event.remove(HumanTask, "load", count)
    assert [task["title"] for task in first.json()] == ["mine 2", "mine 1"]
    assert [task["title"] for task in second.json()] == ["mine 0"]
    assert loads_of_first_page == 2, loads_of_first_page
