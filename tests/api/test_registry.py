"""The registry over the API: immutable prompt and model versions, audited aliases, per
tenant; and a run pins the prompt version its alias named when it started."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from auterity.graph.compiler import compile_graph
from auterity.graph.run import WORKFLOW_NAME, GraphRunInput
from auterity.settings import Settings
from tests.api.conftest import Member, TwoTenants
from tests.factories import save_graph, wait_for_execution

MemberFactory = Callable[..., Awaitable[Member]]


def _prompt(template: str, **spec: Any) -> dict[str, Any]:
    return {"spec": {"template": template, **spec}}


async def test_versions_are_appended_and_aliases_move_audited(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    owner = await member(make_tenant())
    headers = owner.headers
    created = await api.post(
        "/v1/registry/prompts",
        json={"name": "triage", **_prompt("Classify: {{ ticket }}", max_tokens=5)},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    assert [v["version"] for v in created.json()["versions"]] == [1]
    second = await api.post(
        "/v1/registry/prompts/triage/versions",
        json=_prompt("Triage: {{ ticket }}"),
        headers=headers,
    )
    assert [v["version"] for v in second.json()["versions"]] == [1, 2]
    assert second.json()["versions"][0]["spec"]["template"] == "Classify: {{ ticket }}"
    for version in (1, 2):
        moved = await api.put(
            "/v1/registry/prompts/triage/aliases/production",
            json={"version": version},
            headers=headers,
        )
        assert moved.status_code == 200 and moved.json()["aliases"] == {"production": version}
    model = await api.post(
        "/v1/registry/models", json={"name": "classifier", "spec": {"route": "default"}},
        headers=headers,
    )  # fmt: skip
    assert model.status_code == 201, model.text
    staged = await api.put(
        "/v1/registry/models/classifier/aliases/staging", json={"version": 1}, headers=headers
    )
    assert staged.json()["aliases"] == {"staging": 1}
    assert (await api.get("/v1/registry/models", headers=headers)).json()["items"][0]["name"] == (
        "classifier"
    )
    entries = (await api.get("/v1/audit", params={"limit": 50}, headers=headers)).json()["items"]
    moves = [e["details"] for e in entries if e["action"] == "registry.prompt.alias_moved"]
    assert sorted((m["from"] or 0, m["to"]) for m in moves) == [(0, 1), (1, 2)]


async def test_bad_registry_input_is_a_422_naming_the_field(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    owner = await member(make_tenant())
    headers = owner.headers
    cases = [
        ("/v1/registry/prompts", {"name": "p", "spec": {}}, ["body", "spec", "template"]),
        ("/v1/registry/prompts", {"name": "9p", **_prompt("x")}, ["body", "name"]),
        ("/v1/registry/prompts", {"name": "p", **_prompt("x", temperature=5)},
         ["body", "spec", "temperature"]),
        ("/v1/registry/prompts", {"name": "p", "spec": {"template": "x", "colour": 1}},
         ["body", "spec", "colour"]),
        ("/v1/registry/models", {"name": "m", "spec": {}}, ["body", "spec", "route"]),
    ]  # fmt: skip
    for path, body, loc in cases:
        response = await api.post(path, json=body, headers=headers)
        assert response.status_code == 422, response.text
        assert any(e["loc"] == loc for e in response.json()["errors"]), response.json()
    await api.post("/v1/registry/prompts", json={"name": "p", **_prompt("x")}, headers=headers)
    missing = await api.put(
        "/v1/registry/prompts/p/aliases/production", json={"version": 7}, headers=headers
    )
    assert missing.status_code == 422 and missing.json()["errors"][0]["loc"] == ["body", "version"]
    bad_alias = await api.put(
        "/v1/registry/prompts/p/aliases/-x", json={"version": 1}, headers=headers
    )
    assert bad_alias.status_code == 422
    duplicate = await api.post(
        "/v1/registry/prompts", json={"name": "p", **_prompt("y")}, headers=headers
    )
    assert duplicate.status_code == 409


async def test_a_tenant_cannot_see_move_or_run_another_tenants_prompt(
    api: httpx.AsyncClient, two_tenants: TwoTenants
) -> None:
    a, b = two_tenants.a, two_tenants.b
    await api.post(
        "/v1/registry/prompts", json={"name": "secret", **_prompt("b's")}, headers=b.headers
    )
    await api.put(
        "/v1/registry/prompts/secret/aliases/production", json={"version": 1}, headers=b.headers
    )
    assert (await api.get("/v1/registry/prompts/secret", headers=a.headers)).status_code == 404
    moved = await api.put(
        "/v1/registry/prompts/secret/aliases/production", json={"version": 1}, headers=a.headers
    )
    assert moved.status_code == 404
    added = await api.post(
        "/v1/registry/prompts/secret/versions", json=_prompt("mine now"), headers=a.headers
    )
    assert added.status_code == 404
    saved = await api.post("/v1/graphs", json=_graph("secret@production"), headers=a.headers)
    assert saved.status_code == 422 and "unknown prompt 'secret'" in saved.text
    assert saved.json()["errors"][0]["loc"] == ["body", "nodes", "ask", "config", "prompt_ref"]
    versions = (await api.get("/v1/registry/prompts/secret", headers=b.headers)).json()
    assert [v["version"] for v in versions["versions"]] == [1]


@pytest.mark.usefixtures("api_worker")
async def test_a_run_keeps_the_version_its_alias_named_when_it_started(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    owner = await member(make_tenant())
    headers = owner.headers
    await _two_versions(api, headers, "greet", "v1 hello {{ name }}", "v2 hi {{ name }}")
    graph_id = await save_graph(api, headers, _graph("greet@production", wait="2s"))
    first, second = await _runs_around_a_move(
        api, headers, graph_id, {"name": "{{ Ada }}"}, "prompts/greet"
    )
    # The mock route echoes the prompt; the name is data, never rendered as a template.
    assert first["nodes"]["ask"]["output"]["text"] == "v1 hello {{ Ada }}"
    assert second["nodes"]["ask"]["output"]["text"] == "v2 hi {{ Ada }}"
    assert first["nodes"]["ask"]["output"]["mock"] is True


@pytest.mark.usefixtures("api_worker")
async def test_a_foreach_of_llm_calls_keeps_the_version_pinned_at_start(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    owner = await member(make_tenant())
    headers = owner.headers
    await _two_versions(api, headers, "greet", "v1 hello {{ name }}", "v2 hi {{ name }}")
    each = {"type": "llm",
            "config": {"prompt_ref": "greet@production", "variables": {"name": "{{ item }}"}}}  # fmt: skip
    graph = {
        "name": "greets",
        "nodes": [
            {"id": "pause", "type": "wait", "config": {"duration": "2s"}},
            {"id": "all", "type": "foreach", "config": {"items": "inputs.names", "node": each}},
        ],
        "edges": [{"from": "pause", "to": "all"}],
    }
    graph_id = await save_graph(api, headers, graph)
    started = await api.post(
        f"/v1/graphs/{graph_id}/executions", json={"inputs": {"names": ["Ada", "Grace"]}},
        headers=headers,
    )  # fmt: skip
    assert started.status_code == 201, started.text
    moved = await api.put(
        "/v1/registry/prompts/greet/aliases/production", json={"version": 2}, headers=headers
    )
    assert moved.status_code == 200
    run = await wait_for_execution(api, headers, started.json()["id"], "completed")
    assert [answer["text"] for answer in run["nodes"]["all"]["output"]] == [
        "v1 hello Ada", "v1 hello Grace"
    ]  # fmt: skip


@pytest.mark.usefixtures("api_worker")
async def test_two_versions_compared_side_by_side_before_the_alias_moves(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    owner = await member(make_tenant())
    headers = owner.headers
    await _two_versions(api, headers, "triage", "v1 {{ ticket }}", "v2 {{ ticket }} ({{ team }})")
    cases = [{"ticket": "site down", "team": "ops"}, {"ticket": "{{ 7 * 6 }}", "team": "web"}]
    compared = await api.post(
        "/v1/registry/prompts/triage/compare",
        json={"versions": ["production", "2"], "cases": cases},
        headers=headers,
    )
    assert compared.status_code == 201, compared.text
    comparison = compared.json()
    assert comparison["versions"] == [1, 2]
    run = await wait_for_execution(api, headers, comparison["execution_id"], "completed")
    table = run["nodes"]["results"]["output"]
    # The mock route echoes the prompt; a case's text is data, never rendered.
    assert [(row["case"], row["a"]["text"], row["b"]["text"]) for row in table] == [
        (cases[0], "v1 site down", "v2 site down (ops)"),
        (cases[1], "v1 {{ 7 * 6 }}", "v2 {{ 7 * 6 }} (web)"),
    ]
    graph = (await api.get(f"/v1/graphs/{comparison['graph_id']}", headers=headers)).json()
    assert graph["name"] == "compare triage v1 vs v2"
    production = await api.get("/v1/registry/prompts/triage", headers=headers)
    assert production.json()["aliases"] == {"production": 1}


async def test_a_comparison_names_the_bad_version_or_case_and_needs_run_rights(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    slug = make_tenant()
    owner = await member(slug)
    await api.post(
        "/v1/registry/prompts", json={"name": "triage", **_prompt("{{ ticket }}")},
        headers=owner.headers,
    )  # fmt: skip
    path = "/v1/registry/prompts/triage/compare"
    cases: list[tuple[dict[str, Any], list[Any]]] = [
        ({"versions": ["1", "staging"], "cases": [{"ticket": "x"}]}, ["body", "versions", 1]),
        ({"versions": ["1", "9"], "cases": [{"ticket": "x"}]}, ["body", "versions", 1]),
        ({"versions": ["1"], "cases": [{"ticket": "x"}]}, ["body", "versions"]),
        ({"versions": ["1", "1"], "cases": []}, ["body", "cases"]),
        ({"versions": ["1", "1"], "cases": [{"a b": "x"}]}, ["body", "cases", 0, "a b"]),
        ({"versions": ["1", "1"], "cases": [{"x }}{{ y": "x"}]}, ["body", "cases", 0, "x }}{{ y"]),
        ({"versions": ["1", "1"], "cases": [{"t": 1}] * 21}, ["body", "cases"]),
    ]
    for body, loc in cases:
        response = await api.post(path, json=body, headers=owner.headers)
        assert response.status_code == 422, (body, response.text)
        assert any(e["loc"] == loc for e in response.json()["errors"]), response.json()
    missing = await api.post(
        "/v1/registry/prompts/nope/compare",
        json={"versions": ["1", "1"], "cases": [{"t": 1}]},
        headers=owner.headers,
    )
    assert missing.status_code == 404
    viewer = await member(slug, roles=("viewer",))
    refused = await api.post(
        path, json={"versions": ["1", "1"], "cases": [{"t": 1}]}, headers=viewer.headers
    )
    assert refused.status_code == 403


async def _two_versions(
    api: httpx.AsyncClient, headers: dict[str, str], name: str, first: str, second: str
) -> None:
    """Prompt `name` with versions 1 and 2 of these templates, `production` naming 1."""
    created = await api.post(
        "/v1/registry/prompts", json={"name": name, **_prompt(first)}, headers=headers
    )
    assert created.status_code == 201, created.text
    added = await api.post(
        f"/v1/registry/prompts/{name}/versions", json=_prompt(second), headers=headers
    )
    assert added.status_code == 201, added.text
    aliased = await api.put(
        f"/v1/registry/prompts/{name}/aliases/production", json={"version": 1}, headers=headers
    )
    assert aliased.status_code == 200, aliased.text


def _graph(reference: str, wait: str | None = None) -> dict[str, Any]:
    ask = {
        "id": "ask",
        "type": "llm",
        "config": {"prompt_ref": reference, "variables": {"name": "{{ inputs.name }}"}},
    }
    nodes: list[dict[str, Any]] = [ask]
    edges: list[dict[str, str]] = []
    if wait is not None:
        nodes.insert(0, {"id": "pause", "type": "wait", "config": {"duration": wait}})
        edges.append({"from": "pause", "to": "ask"})
    return {"name": "uses-prompt", "nodes": nodes, "edges": edges}


@pytest.mark.usefixtures("api_worker")
async def test_each_scheduled_run_pins_the_alias_when_it_starts(
    api: httpx.AsyncClient,
    make_tenant: Callable[..., str],
    member: MemberFactory,
    temporal_client: Client,
) -> None:
    owner = await member(make_tenant())
    headers = owner.headers
    schedule_id = await _greeter_schedule(api, headers, wait="2s")
    try:
        # The schedule's saved input names the alias, not a version: each run pins it.
        action = (await temporal_client.get_schedule_handle(schedule_id).describe()).schedule
        [saved] = await temporal_client.data_converter.decode(
            action.action.args,
            [GraphRunInput],  # type: ignore[attr-defined]
        )
        assert saved.plan.nodes["ask"].config["prompt_version"] is None

        first = await _fire(api, headers, schedule_id, count=1)
        # The run pins in its first workflow task, which may come a moment after the start.
        await _until_pinned(api, headers, first)
        moved = await api.put(
            "/v1/registry/prompts/greet/aliases/production", json={"version": 2}, headers=headers
        )
        assert moved.status_code == 200
        await asyncio.sleep(1.1)  # a run's id ends with the second it was triggered in
        second = await _fire(api, headers, schedule_id, count=2)
        early = await wait_for_execution(api, headers, first, "completed")
        late = await wait_for_execution(api, headers, second, "completed")
    finally:
        await temporal_client.get_schedule_handle(schedule_id).delete()
    # The first run was still waiting when the alias moved: it kept version 1.
    assert early["nodes"]["ask"]["output"]["text"] == "v1 hello Ada"
    assert late["nodes"]["ask"]["output"]["text"] == "v2 hi Ada"
    assert early["pinned"] == {"ask": {"prompt": "greet@1"}}
    assert late["pinned"] == {"ask": {"prompt": "greet@2"}}


@pytest.mark.usefixtures("api_worker")
async def test_a_retried_scheduled_run_keeps_the_versions_it_pinned(
    api: httpx.AsyncClient,
    make_tenant: Callable[..., str],
    member: MemberFactory,
    temporal_client: Client,
) -> None:
    owner = await member(make_tenant())
    headers = owner.headers
    schedule_id = await _greeter_schedule(api, headers, wait="3s")
    try:
        first = await _fire(api, headers, schedule_id, count=1)
        await _until_pinned(api, headers, first)
        cancelled = await api.post(f"/v1/executions/{first}/cancel", headers=headers)
        assert cancelled.status_code == 202, cancelled.text
        await wait_for_execution(api, headers, first, "cancelled")
    finally:
        await temporal_client.get_schedule_handle(schedule_id).delete()
    moved = await api.put(
        "/v1/registry/prompts/greet/aliases/production", json={"version": 2}, headers=headers
    )
    assert moved.status_code == 200
    retried = await api.post(f"/v1/executions/{first}/retry", headers=headers)
    assert retried.status_code == 201, retried.text
    run = await wait_for_execution(api, headers, retried.json()["id"], "completed")
    assert run["nodes"]["ask"]["output"]["text"] == "v1 hello Ada"
    assert run["pinned"] == {"ask": {"prompt": "greet@1"}}


@pytest.mark.usefixtures("api_worker")
async def test_a_run_started_over_the_api_records_what_it_pinned(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    owner = await member(make_tenant())
    await _two_versions(api, owner.headers, "greet", "v1 {{ name }}", "v2 {{ name }}")
    graph_id = await save_graph(api, owner.headers, _graph("greet@production"))
    started = await api.post(
        f"/v1/graphs/{graph_id}/executions", json={"inputs": {"name": "x"}}, headers=owner.headers
    )
    assert started.status_code == 201, started.text
    run = await wait_for_execution(api, owner.headers, started.json()["id"], "completed")
    assert run["pinned"] == {"ask": {"prompt": "greet@1"}}


@pytest.mark.usefixtures("api_worker")
async def test_a_run_cannot_pin_another_tenants_entries(
    api: httpx.AsyncClient, two_tenants: TwoTenants, temporal_client: Client, settings: Settings
) -> None:
    """A run input naming entries only another tenant has (hand-made here, as a schedule
    saved before they were deleted would be) fails before any node runs: the run reads
    only its own tenant's registry."""
    a, b = two_tenants.a, two_tenants.b
    await _two_versions(api, b.headers, "secret", "b's {{ name }}", "b's v2 {{ name }}")
    plan = compile_graph(_graph("secret@production"))
    run = GraphRunInput(
        tenant=a.tenant_slug, graph_id="gr_x", version_id=plan.version_id, plan=plan,
        inputs={"name": "x"}, trigger="schedule",
    )  # fmt: skip
    handle = await temporal_client.start_workflow(
        WORKFLOW_NAME, run, id=f"{a.tenant_slug}:gr_x:{uuid.uuid4().hex}",
        task_queue=settings.task_queue,
    )  # fmt: skip
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "NodeConfigInvalid"
    assert "prompt_ref: unknown prompt 'secret'" in cause.message
    events = [event async for event in handle.fetch_history_events()]
    assert not any(e.HasField("activity_task_scheduled_event_attributes") for e in events)


@pytest.mark.usefixtures("api_worker")
async def test_an_llm_node_names_a_registry_model_pinned_at_start(
    api: httpx.AsyncClient, make_tenant: Callable[..., str], member: MemberFactory
) -> None:
    owner = await member(make_tenant())
    headers = owner.headers
    created = await api.post(
        "/v1/registry/models", json={"name": "clf", "spec": {"route": "default"}}, headers=headers
    )
    assert created.status_code == 201, created.text
    added = await api.post(
        "/v1/registry/models/clf/versions", json={"spec": {"route": "normal"}}, headers=headers
    )
    assert added.status_code == 201, added.text
    aliased = await api.put(
        "/v1/registry/models/clf/aliases/production", json={"version": 1}, headers=headers
    )
    assert aliased.status_code == 200
    ask = {"id": "ask", "type": "llm",
           "config": {"model_ref": "clf@production", "prompt": "say {{ inputs.name }}"}}  # fmt: skip
    pause = {"id": "pause", "type": "wait", "config": {"duration": "2s"}}
    graph = {"name": "uses-model", "nodes": [pause, ask],
             "edges": [{"from": "pause", "to": "ask"}]}  # fmt: skip
    graph_id = await save_graph(api, headers, graph)
    first, second = await _runs_around_a_move(api, headers, graph_id, {"name": "Ada"}, "models/clf")
    # Version 1 is served by the echoing route, version 2 by the one answering "normal".
    assert first["nodes"]["ask"]["output"]["text"] == "say Ada"
    assert first["nodes"]["ask"]["output"]["route"] == "default"
    assert second["nodes"]["ask"]["output"]["text"] == "normal"
    assert second["nodes"]["ask"]["output"]["route"] == "normal"
    assert first["pinned"] == {"ask": {"model": "clf@1"}}
    assert second["pinned"] == {"ask": {"model": "clf@2"}}


async def test_a_graph_naming_another_tenants_model_is_refused_on_save(
    api: httpx.AsyncClient, two_tenants: TwoTenants
) -> None:
    a, b = two_tenants.a, two_tenants.b
    created = await api.post(
        "/v1/registry/models", json={"name": "theirs", "spec": {"route": "default"}},
        headers=b.headers,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    ask = {"id": "ask", "type": "llm", "config": {"model_ref": "theirs@1", "prompt": "x"}}
    refused = await api.post(
        "/v1/graphs", json={"name": "g", "nodes": [ask], "edges": []}, headers=a.headers
    )
    assert refused.status_code == 422
    assert "node 'ask' field 'config.model_ref': unknown model 'theirs'" in refused.json()["detail"]
    assert refused.json()["errors"][0]["loc"] == ["body", "nodes", "ask", "config", "model_ref"]
    each = {"type": "llm", "config": {"model_ref": "theirs@1", "prompt": "{{ item }}"}}
    loop = {"id": "all", "type": "foreach", "config": {"items": "[1]", "node": each}}
    refused = await api.post(
        "/v1/graphs", json={"name": "g", "nodes": [loop], "edges": []}, headers=a.headers
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["loc"] == [
        "body", "nodes", "all", "config", "node", "config", "model_ref"
    ]  # fmt: skip
    # Its own version numbers are checked too; b's graph naming its own model saves.
    missing = {**ask, "config": {"model_ref": "theirs@9", "prompt": "x"}}
    refused = await api.post(
        "/v1/graphs", json={"name": "g", "nodes": [missing], "edges": []}, headers=b.headers
    )
    assert refused.status_code == 422 and "model 'theirs' has no version 9" in refused.text
    await save_graph(api, b.headers, {"name": "g", "nodes": [ask], "edges": []})


async def _runs_around_a_move(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    graph_id: str,
    inputs: dict[str, Any],
    entry: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two runs of the graph, finished: one started before `entry`'s `production` alias moves
    to version 2 (and still running when it does), one after."""

    async def start() -> str:
        response = await api.post(
            f"/v1/graphs/{graph_id}/executions", json={"inputs": inputs}, headers=headers
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    early = await start()
    moved = await api.put(
        f"/v1/registry/{entry}/aliases/production", json={"version": 2}, headers=headers
    )
    assert moved.status_code == 200
    late = await start()
    return (
        await wait_for_execution(api, headers, early, "completed"),
        await wait_for_execution(api, headers, late, "completed"),
    )


async def _greeter_schedule(api: httpx.AsyncClient, headers: dict[str, str], wait: str) -> str:
    """A paused hourly schedule of a graph whose llm node names `greet@production` (versions
    1 and 2, the alias naming 1) after a `wait`; its id."""
    await _two_versions(api, headers, "greet", "v1 hello {{ name }}", "v2 hi {{ name }}")
    graph_id = await save_graph(api, headers, _graph("greet@production", wait=wait))
    created = await api.post(
        "/v1/schedules",
        json={"name": "greeter", "graph_id": graph_id, "inputs": {"name": "Ada"},
              "interval": "1h", "paused": True},
        headers=headers,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _until_pinned(api: httpx.AsyncClient, headers: dict[str, str], execution_id: str) -> None:
    for _ in range(100):
        read = await api.get(f"/v1/executions/{execution_id}", headers=headers)
        if read.status_code == 200 and read.json()["pinned"]:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{execution_id} pinned nothing")


async def _fire(
    api: httpx.AsyncClient, headers: dict[str, str], schedule_id: str, count: int
) -> str:
    """Trigger the schedule now; the id of the run it started (its `count`th)."""
    triggered = await api.post(
        f"/v1/schedules/{schedule_id}/trigger", json={"overlap": "allow_all"}, headers=headers
    )
    assert triggered.status_code == 202, triggered.text
    for _ in range(100):
        read = (await api.get(f"/v1/schedules/{schedule_id}", headers=headers)).json()
        if len(read["recent_actions"]) >= count:
            return str(read["recent_actions"][-1]["execution_id"])
        await asyncio.sleep(0.1)
    raise AssertionError(f"schedule {schedule_id} took fewer than {count} actions")
