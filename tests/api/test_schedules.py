"""Schedules over HTTP, on real Temporal Schedules: create, read, list, update, pause, resume,
run now, backfill, delete; bad input and other tenants' ids refused."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import Client, ScheduleActionStartWorkflow, ScheduleOverlapPolicy
from temporalio.service import RPCError

from api.services.executions import started_input
from auterity.graph import naming
from auterity.settings import Settings
from tests.factories import auth_headers, make_member
from tests.support import serve

DIGEST = {
    "name": "digest",
    "inputs": {
        "type": "object",
        "properties": {"topic": {"type": "string"}},
        "required": ["topic"],
    },
    "nodes": [
        {"id": "say", "type": "transform", "config": {"value": "digest of {{ inputs.topic }}"}}
    ],
    "edges": [],
}

MakeSchedule = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
async def graph_id(api: httpx.AsyncClient, owner) -> str:
    _member, headers = owner
    response = await api.post("/v1/graphs", json=DIGEST, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture
async def make_schedule(
    api: httpx.AsyncClient, owner, graph_id: str, temporal_client: Client
) -> AsyncIterator[MakeSchedule]:
    """Create schedules over HTTP; whatever is left is deleted from Temporal afterwards."""
    _member, headers = owner
    created: list[str] = []

    async def _make(**fields: Any) -> dict[str, Any]:
        body = {
            "name": "daily digest", "graph_id": graph_id, "inputs": {"topic": "sales"},
            "cron": ["0 9 * * MON-FRI"], "paused": True, **fields,
        }  # fmt: skip
        response = await api.post("/v1/schedules", json=body, headers=headers)
        assert response.status_code == 201, response.text
        created.append(response.json()["id"])
        return dict(response.json())

    yield _make
    for schedule_id in created:
        with contextlib.suppress(RPCError):
            await temporal_client.get_schedule_handle(schedule_id).delete()


async def wait_for_action(
    api: httpx.AsyncClient, headers: dict[str, str], schedule_id: str, count: int = 1
) -> dict[str, Any]:
    for _ in range(100):
        read = (await api.get(f"/v1/schedules/{schedule_id}", headers=headers)).json()
        if len(read["recent_actions"]) >= count:
            return dict(read)
        await asyncio.sleep(0.1)
    raise AssertionError(f"schedule {schedule_id} took fewer than {count} actions: {read}")


async def test_create_read_list_delete(
    api: httpx.AsyncClient, owner, graph_id: str, make_schedule: MakeSchedule,
    temporal_client: Client,
) -> None:  # fmt: skip
    member, headers = owner
    created = await make_schedule(time_zone="Europe/Paris", overlap="buffer_one", note="weekdays")
    schedule_id = created["id"]
    assert schedule_id.startswith(f"{member.tenant_slug}:sched:")
    assert created["cron"] == ["0 9 * * MON-FRI"] and created["interval"] is None
    assert created["time_zone"] == "Europe/Paris" and created["overlap"] == "buffer_one"
    assert created["paused"] is True and created["note"] == "weekdays"
    assert created["inputs"] == {"topic": "sales"} and created["graph_id"] == graph_id
    current = (await api.get(f"/v1/graphs/{graph_id}", headers=headers)).json()["version_id"]
    assert created["version_id"] == current
    assert created["next_action_times"] and created["recent_actions"] == []
    first = datetime.fromisoformat(created["next_action_times"][0]).astimezone(UTC)
    assert first.hour in (7, 8) and first.minute == 0  # 09:00 in Paris

    description = await temporal_client.get_schedule_handle(schedule_id).describe()
    action = description.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow) and action.workflow == "GraphWorkflow"
    assert action.id == f"{member.tenant_slug}:{graph_id}:sched-{schedule_id.rsplit(':', 1)[1]}"
    assert action.typed_search_attributes.get(naming.TRIGGER) == "schedule"
    assert action.typed_search_attributes.get(naming.TENANT) == member.tenant_slug
    assert description.schedule.policy.overlap == ScheduleOverlapPolicy.BUFFER_ONE

    read = await api.get(f"/v1/schedules/{schedule_id}", headers=headers)
    assert read.status_code == 200 and read.json()["id"] == schedule_id
    listed = await api.get("/v1/schedules", headers=headers)
    assert [item["id"] for item in listed.json()["items"]] == [schedule_id]
    by_graph = await api.get("/v1/schedules", params={"graph_id": "gr_other"}, headers=headers)
    assert by_graph.json()["items"] == []

    assert (await api.delete(f"/v1/schedules/{schedule_id}", headers=headers)).status_code == 204
    assert (await api.get(f"/v1/schedules/{schedule_id}", headers=headers)).status_code == 404
    with pytest.raises(RPCError):
        await temporal_client.get_schedule_handle(schedule_id).describe()
    audit = await api.get("/v1/audit", params={"action": "schedule.*"}, headers=headers)
    assert {e["action"] for e in audit.json()["items"]} == {"schedule.create", "schedule.delete"}


@pytest.mark.usefixtures("api_worker")
async def test_trigger_now_starts_a_run_tagged_schedule(
    api: httpx.AsyncClient, owner, graph_id: str, make_schedule: MakeSchedule,
    temporal_client: Client,
) -> None:  # fmt: skip
    member, headers = owner
    schedule = await make_schedule(interval="1h", cron=None)
    assert schedule["interval"] == "1h" and schedule["cron"] is None
    triggered = await api.post(f"/v1/schedules/{schedule['id']}/trigger", headers=headers)
    assert triggered.status_code == 202, triggered.text
    read = await wait_for_action(api, headers, schedule["id"])
    execution_id = read["recent_actions"][0]["execution_id"]
    assert execution_id.startswith(f"{member.tenant_slug}:{graph_id}:sched-")

    handle = temporal_client.get_workflow_handle(execution_id)
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(naming.TRIGGER) == "schedule"
    assert attributes.get(naming.GRAPH_VERSION) == schedule["version_id"]
    assert (await started_input(temporal_client, handle)).inputs == {"topic": "sales"}
    for _ in range(100):
        execution = (await api.get(f"/v1/executions/{execution_id}", headers=headers)).json()
        if execution["status"] == "completed":
            break
        await asyncio.sleep(0.1)
    assert execution["status"] == "completed", execution
    assert execution["nodes"]["say"]["output"] == "digest of sales"


async def test_pause_and_resume(api: httpx.AsyncClient, owner, make_schedule: MakeSchedule) -> None:
    _member, headers = owner
    schedule = await make_schedule(paused=False)
    path = f"/v1/schedules/{schedule['id']}"
    paused = await api.post(f"{path}/pause", json={"note": "holidays"}, headers=headers)
    assert paused.status_code == 200, paused.text
    assert paused.json()["paused"] is True and paused.json()["note"] == "holidays"
    resumed = await api.post(f"{path}/resume", headers=headers)
    assert resumed.status_code == 200
    assert resumed.json()["paused"] is False and "resumed by" in resumed.json()["note"]
    audit = await api.get("/v1/audit", params={"action": "schedule.*"}, headers=headers)
    actions = {entry["action"] for entry in audit.json()["items"]}
    assert {"schedule.pause", "schedule.resume"} <= actions


async def test_update_spec_policy_inputs_and_version(
    api: httpx.AsyncClient, owner, graph_id: str, make_schedule: MakeSchedule
) -> None:
    _member, headers = owner
    schedule = await make_schedule()
    path = f"/v1/schedules/{schedule['id']}"
    updated = await api.patch(
        path,
        json={"name": "hourly", "interval": "90m", "time_zone": "Asia/Tokyo",
              "overlap": "allow_all", "inputs": {"topic": "ops"}, "note": "busier"},
        headers=headers,
    )  # fmt: skip
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert body["name"] == "hourly" and body["interval"] == "90m" and body["cron"] is None
    assert body["time_zone"] == "Asia/Tokyo" and body["overlap"] == "allow_all"
    assert body["inputs"] == {"topic": "ops"} and body["note"] == "busier"
    assert body["paused"] is True and body["version_id"] == schedule["version_id"]

    changed = {**DIGEST, "nodes": [{**DIGEST["nodes"][0], "config": {"value": "v2"}}]}
    new = (await api.put(f"/v1/graphs/{graph_id}", json=changed, headers=headers)).json()
    kept = await api.patch(path, json={"cron": ["@daily"]}, headers=headers)
    assert kept.json()["version_id"] == schedule["version_id"]
    assert kept.json()["cron"] == ["@daily"] and kept.json()["interval"] is None
    assert kept.json()["inputs"] == {"topic": "ops"}
    repinned = await api.patch(path, json={"version": None}, headers=headers)
    assert repinned.json()["version_id"] == new["version_id"]
    back = await api.patch(path, json={"version": "1", "paused": False}, headers=headers)
    assert back.json()["version_id"] == schedule["version_id"] and back.json()["paused"] is False

    invalid = await api.patch(path, json={"inputs": {"topic": 3}}, headers=headers)
    assert invalid.status_code == 422
    assert invalid.json()["errors"][0]["loc"] == ["body", "inputs", "topic"]
    for body_, loc in [
        ({"cron": ["0 9 * *"]}, ["body", "cron", 0]),
        ({"cron": ["@daily"], "interval": "1h"}, ["body"]),
        ({"interval": None}, ["body", "interval"]),
        ({"name": None}, ["body", "name"]),
        ({"time_zone": "Atlantis/Capital"}, ["body", "time_zone"]),
        ({"overlap": "sometimes"}, ["body", "overlap"]),
        ({"paused": "maybe"}, ["body", "paused"]),
        ({"spec": {}}, ["body", "spec"]),
    ]:
        response = await api.patch(path, json=body_, headers=headers)
        assert response.status_code == 422, (body_, response.text)
        assert response.json()["errors"][0]["loc"] == loc, body_
    assert (await api.patch(path, json={"version": "99"}, headers=headers)).status_code == 404


async def test_backfill_takes_the_missed_actions(
    api: httpx.AsyncClient, owner, make_schedule: MakeSchedule
) -> None:
    _member, headers = owner
    schedule = await make_schedule(cron=None, interval="1h", overlap="allow_all", paused=False)
    now = datetime.now(UTC)
    response = await api.post(
        f"/v1/schedules/{schedule['id']}/backfill",
        json={"start": (now - timedelta(hours=3)).isoformat(), "end": now.isoformat()},
        headers=headers,
    )
    assert response.status_code == 202, response.text
    read = await wait_for_action(api, headers, schedule["id"], count=3)
    assert all(action["execution_id"] for action in read["recent_actions"])
    assert all(
        datetime.fromisoformat(action["scheduled_at"]) < now for action in read["recent_actions"]
    )


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"name": None}, ["body", "name"]),
        ({"graph_id": None}, ["body", "graph_id"]),
        ({"name": ["x"]}, ["body", "name"]),
        ({"inputs": "topic=sales"}, ["body", "inputs"]),
        ({"colour": "red"}, ["body", "colour"]),
        ({"cron": None}, ["body"]),
        ({"interval": "1h"}, ["body"]),
        ({"cron": "0 9 * * *"}, ["body", "cron"]),
        ({"cron": []}, ["body", "cron"]),
        ({"cron": ["every morning"]}, ["body", "cron", 0]),
        ({"cron": ["@daily", "0 9 * * * * * *"]}, ["body", "cron", 1]),
        ({"cron": ["61 * * * *"]}, ["body"]),
        ({"cron": None, "interval": "soon"}, ["body", "interval"]),
        ({"cron": None, "interval": "500ms"}, ["body", "interval"]),
        ({"time_zone": "Mars/Olympus"}, ["body", "time_zone"]),
        ({"time_zone": "../../etc/passwd"}, ["body", "time_zone"]),
        ({"overlap": "whenever"}, ["body", "overlap"]),
        ({"paused": "later"}, ["body", "paused"]),
        ({"inputs": {}}, ["body", "inputs"]),
        ({"inputs": {"topic": 1}}, ["body", "inputs", "topic"]),
    ],
)
async def test_bad_schedule_bodies_are_422(
    api: httpx.AsyncClient, owner, graph_id: str, body: dict[str, Any], loc: list[Any]
) -> None:
    _member, headers = owner
    sent = {
        "name": "s", "graph_id": graph_id, "inputs": {"topic": "t"}, "cron": ["@daily"],
        "paused": True, **body,
    }  # fmt: skip
    sent = {key: value for key, value in sent.items() if value is not None}
    response = await api.post("/v1/schedules", json=sent, headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["loc"] == loc
    assert (await api.get("/v1/schedules", headers=headers)).json()["items"] == []


async def test_malformed_json_unknown_graph_and_bad_backfills(
    api: httpx.AsyncClient, owner, make_schedule: MakeSchedule
) -> None:
    _member, headers = owner
    json_headers = {**headers, "content-type": "application/json"}
    broken = await api.post("/v1/schedules", content=b'{"name": "x", ', headers=json_headers)
    assert broken.status_code == 422 and broken.json()["errors"][0]["loc"][0] == "body"
    unknown = await api.post(
        "/v1/schedules",
        json={"name": "x", "graph_id": "gr_missing", "interval": "1h"},
        headers=headers,
    )
    assert unknown.status_code == 404

    schedule = await make_schedule()
    path = f"/v1/schedules/{schedule['id']}"
    now = datetime.now(UTC)
    for body, loc in [
        ({"start": now.isoformat()}, ["body", "end"]),
        ({"start": "yesterday", "end": now.isoformat()}, ["body", "start"]),
        ({"start": "2026-01-01T00:00:00", "end": now.isoformat()}, ["body", "start"]),
        ({"start": now.isoformat(), "end": (now - timedelta(hours=1)).isoformat()}, ["body"]),
        ({"start": now.isoformat(), "end": (now + timedelta(days=1)).isoformat()}, ["body"]),
        ({"start": (now - timedelta(hours=1)).isoformat(), "end": now.isoformat(),
          "overlap": "never"}, ["body", "overlap"]),
    ]:  # fmt: skip
        response = await api.post(f"{path}/backfill", json=body, headers=headers)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["errors"][0]["loc"] == loc, body
    assert (
        await api.post(f"{path}/backfill", content=b"{", headers=json_headers)
    ).status_code == 422
    bad_note = await api.post(f"{path}/pause", json={"note": 5}, headers=headers)
    assert bad_note.status_code == 422
    bad_overlap = await api.post(f"{path}/trigger", json={"overlap": "x"}, headers=headers)
    assert bad_overlap.status_code == 422
    extra = await api.post(f"{path}/resume", json={"now": True}, headers=headers)
    assert extra.status_code == 422


async def test_another_tenant_gets_404_and_permissions_hold(
    api: httpx.AsyncClient, sessions, owner, make_schedule: MakeSchedule
) -> None:
    member, headers = owner
    schedule = await make_schedule()
    path = f"/v1/schedules/{schedule['id']}"
    stranger_member = make_member(sessions)
    stranger = await auth_headers(api, stranger_member)
    backfill = {
        "start": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
        "end": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
    }
    forged = f"{stranger_member.tenant_slug}:sched:{schedule['id'].rsplit(':', 1)[1]}"
    for target in (path, f"/v1/schedules/{forged}"):
        for method, suffix, body in [
            ("GET", "", None),
            ("PATCH", "", {"name": "mine"}),
            ("DELETE", "", None),
            ("POST", "/pause", None),
            ("POST", "/resume", None),
            ("POST", "/trigger", None),
            ("POST", "/backfill", backfill),
        ]:
            response = await api.request(method, target + suffix, json=body, headers=stranger)
            assert response.status_code == 404, (method, target + suffix, response.text)
    assert (await api.get("/v1/schedules", headers=stranger)).json()["items"] == []
    steal = await api.post(
        "/v1/schedules",
        json={"name": "x", "graph_id": schedule["graph_id"], "interval": "1h",
              "inputs": {"topic": "t"}},
        headers=stranger,
    )  # fmt: skip
    assert steal.status_code == 404
    still = await api.get(path, headers=headers)
    assert still.status_code == 200 and still.json()["paused"] is True

    viewer = await auth_headers(api, make_member(sessions, ("viewer",), tenant=member))
    assert (await api.get(path, headers=viewer)).status_code == 200
    assert (await api.get("/v1/schedules", headers=viewer)).status_code == 200
    for method, suffix in [("PATCH", ""), ("DELETE", ""), ("POST", "/pause"), ("POST", "/trigger")]:
        response = await api.request(method, path + suffix, json={}, headers=viewer)
        assert response.status_code == 403, (method, suffix)
    assert (await api.post("/v1/schedules", json={}, headers=viewer)).status_code == 403
    assert (await api.get("/v1/schedules")).status_code == 401


async def test_schedules_cannot_fire_too_often_or_backfill_without_bound(
    api: httpx.AsyncClient, owner, graph_id: str, make_schedule: MakeSchedule
) -> None:
    """Attack: an editor schedules a run every second (a 7-field cron, or a 1s interval), or
    backfills years of minutes, to flood the shared workers. Intervals have a minimum
    (AUTERITY_SCHEDULE_MIN_INTERVAL, 1m by default), cron fires at most once a minute, and a
    backfill starts at most AUTERITY_SCHEDULE_BACKFILL_MAX_ACTIONS runs."""
    _member, headers = owner
    base = {"name": "flood", "graph_id": graph_id, "inputs": {"topic": "x"}, "paused": True}
    for spec, loc in [
        ({"interval": "1s"}, ["body", "interval"]),
        ({"interval": "59s"}, ["body", "interval"]),
        ({"cron": ["* * * * * * *"]}, ["body", "cron", 0]),
        ({"cron": ["*/1 * * * * * *"]}, ["body", "cron", 0]),
    ]:
        response = await api.post("/v1/schedules", json={**base, **spec}, headers=headers)
        assert response.status_code == 422, (spec, response.text)
        assert response.json()["errors"][0]["loc"] == loc
    schedule = await make_schedule(cron=None, interval="1m")
    sped_up = await api.patch(
        f"/v1/schedules/{schedule['id']}", json={"interval": "5s"}, headers=headers
    )
    assert sped_up.status_code == 422 and sped_up.json()["errors"][0]["loc"] == ["body", "interval"]
    now = datetime.now(UTC)
    flood = await api.post(
        f"/v1/schedules/{schedule['id']}/backfill",
        json={"start": (now - timedelta(days=2)).isoformat(), "end": now.isoformat()},
        headers=headers,
    )
    assert flood.status_code == 422, flood.text
    assert "AUTERITY_SCHEDULE_BACKFILL_MAX_ACTIONS" in flood.json()["detail"]
    read = (await api.get(f"/v1/schedules/{schedule['id']}", headers=headers)).json()
    assert read["recent_actions"] == [] and read["actions_taken"] == 0


async def test_a_schedule_keeps_its_llm_task_queue_until_its_inputs_are_sent_again(
    api: httpx.AsyncClient, owner, make_schedule: MakeSchedule, settings: Settings,
    temporal_client: Client,
) -> None:  # fmt: skip
    """A schedule's runs start with the input it was saved with: one saved before the API
    had AUTERITY_LLM_TASK_QUEUE runs llm nodes on the main queue until its inputs change."""
    from api.main import create_app
    from api.services.schedules import run_of

    _member, headers = owner
    schedule = await make_schedule()
    handle = temporal_client.get_schedule_handle(schedule["id"])
    saved = await run_of(temporal_client, await handle.describe())
    assert saved is not None and saved.llm_task_queue is None
    split = settings.model_copy(update={"llm_task_queue": f"llm-{uuid.uuid4()}"})
    with serve(create_app(split)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as configured:
            path = f"/v1/schedules/{schedule['id']}"
            kept = await configured.patch(path, json={"note": "n"}, headers=headers)
            assert kept.status_code == 200, kept.text
            unchanged = await run_of(temporal_client, await handle.describe())
            sent = await configured.patch(path, json={"inputs": {"topic": "x"}}, headers=headers)
            assert sent.status_code == 200, sent.text
            moved = await run_of(temporal_client, await handle.describe())
    assert unchanged is not None and unchanged.llm_task_queue is None
    assert moved is not None and moved.llm_task_queue == split.llm_task_queue
