"""Human tasks over HTTP (routes/tasks.py) against a real worker and Temporal server: the
inbox, deciding a task, signed resume links, separation of duties."""

from __future__ import annotations

import httpx
import pytest

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
    link = await api.post(
        f"/v1/tasks/{task_id}/resume-links",
        json={"assignee": "user:boss@example.com"},
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
    assert decided.json()["completed_by"] == "user:boss@example.com"
    again = await api.post(
        "/v1/tasks/resume",
        json={"token": token, "decision": "approved", "data": {"reason": "fine"}},
    )
    assert again.status_code == 409
    finished = await wait_for_execution(api, headers, execution_id, "completed")
    assert finished["nodes"]["done"]["output"] == "approved"
    audit = (await api.get("/v1/audit", params={"action": "task.complete"}, headers=headers)).json()
    entries = audit["items"] if isinstance(audit, dict) else audit
    assert any(entry["actor"]["name"] == "boss@example.com" for entry in entries), entries


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
