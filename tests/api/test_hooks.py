"""Webhook deliveries over HTTP (routes/hooks.py): signed bodies start runs with mapped
inputs; retries and replays return the same run; bad signatures and bodies are refused."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from api.schemas.hooks import SIGNATURE_HEADER, hook_url
from api.services.executions import started_input
from api.services.hooks import signature_header
from auterity.graph import naming
from auterity.settings import load_settings
from tests.api.samples import ISSUE, MAPPING, TICKET, deliver, make_trigger
from tests.factories import save_graph
from tests.support import metric


async def test_signed_delivery_starts_a_run_with_mapped_inputs(
    api: httpx.AsyncClient, owner, temporal_client: Client
) -> None:
    member, headers = owner
    graph_id = await save_graph(api, headers, TICKET)
    trigger = await make_trigger(api, headers, graph_id, inputs=MAPPING)

    response = await deliver(api, trigger, ISSUE)
    assert response.status_code == 202, response.text
    assert response.json()["created"] is True
    execution_id = response.json()["execution_id"]
    assert execution_id.startswith(f"{member.tenant_slug}:{graph_id}:")

    handle = temporal_client.get_workflow_handle(execution_id)
    description = await handle.describe()
    attributes = description.typed_search_attributes
    assert attributes.get(naming.TRIGGER) == "webhook"
    assert attributes.get(naming.TENANT) == member.tenant_slug
    assert attributes.get(naming.GRAPH) == graph_id
    assert (await description.memo())["trigger_id"] == trigger["id"]
    run = await started_input(temporal_client, handle)
    assert run.inputs == {"title": "Printer on fire", "priority": 2}
    assert run.trigger == "webhook"

    audit = await api.get("/v1/audit", params={"action": "execution.start"}, headers=headers)
    entry = audit.json()["items"][0]
    assert entry["actor"]["type"] == "system"
    assert entry["actor"]["name"] == f"webhook:{trigger['id']}"
    assert {"type": "execution", "id": execution_id} in entry["targets"]


@pytest.mark.usefixtures("api_worker")
async def test_delivery_runs_to_completion_with_headers_and_query(
    api: httpx.AsyncClient, owner
) -> None:
    _member, headers = owner
    graph_id = await save_graph(api, headers, TICKET)
    mapping = {"title": "{{ headers['x-source'] }}/{{ query.team }}/{{ body.n }}"}
    trigger = await make_trigger(api, headers, graph_id, inputs=mapping)
    response = await deliver(
        api, trigger, {"n": 7}, headers={"X-Source": "crm"}, params={"team": "ops"}
    )
    assert response.status_code == 202, response.text
    execution_id = response.json()["execution_id"]
    for _ in range(200):
        read = (await api.get(f"/v1/executions/{execution_id}", headers=headers)).json()
        if read["status"] == "completed":
            break
        await asyncio.sleep(0.1)
    assert read["status"] == "completed", read
    assert read["trigger"] == "webhook"
    assert read["nodes"]["echo"]["output"] == "crm/ops/7"


async def test_without_a_mapping_the_body_is_the_inputs(
    api: httpx.AsyncClient, owner, temporal_client: Client
) -> None:
    _member, headers = owner
    graph_id = await save_graph(api, headers, TICKET)
    trigger = await make_trigger(api, headers, graph_id)
    response = await deliver(api, trigger, {"title": "plain"})
    assert response.status_code == 202, response.text
    handle = temporal_client.get_workflow_handle(response.json()["execution_id"])
    assert (await started_input(temporal_client, handle)).inputs == {"title": "plain"}

    not_an_object = await deliver(api, trigger, ["title"])
    assert not_an_object.status_code == 422
    assert "JSON object" in not_an_object.json()["detail"]
    invalid = await deliver(api, trigger, {"title": 5})
    assert invalid.status_code == 422
    assert invalid.json()["errors"][0]["loc"][-1] == "title"


async def test_pinned_version_runs_that_version(
    api: httpx.AsyncClient, owner, temporal_client: Client
) -> None:
    _member, headers = owner
    graph_id = await save_graph(api, headers, TICKET)
    first = (await api.get(f"/v1/graphs/{graph_id}", headers=headers)).json()["version_id"]
    pinned = await make_trigger(api, headers, graph_id, version=first)
    floating = await make_trigger(api, headers, graph_id)
    changed = json.loads(json.dumps(TICKET))
    changed["nodes"][0]["config"]["value"] = "v2 {{ inputs.title }}"
    second = (await api.put(f"/v1/graphs/{graph_id}", json=changed, headers=headers)).json()
    assert second["version_id"] != first

    for trigger, expected in ((pinned, first), (floating, second["version_id"])):
        response = await deliver(api, trigger, {"title": "x"})
        assert response.status_code == 202, response.text
        description = await temporal_client.get_workflow_handle(
            response.json()["execution_id"]
        ).describe()
        assert description.typed_search_attributes.get(naming.GRAPH_VERSION) == expected


async def test_retried_and_replayed_deliveries_return_the_same_execution(
    api: httpx.AsyncClient, owner
) -> None:
    _member, headers = owner
    graph_id = await save_graph(api, headers, TICKET)
    trigger = await make_trigger(api, headers, graph_id, inputs=MAPPING)

    keyed = {"Idempotency-Key": "delivery-1"}  # v2: the signature covers the key
    first = await deliver(api, trigger, ISSUE, headers=keyed)
    retried = await deliver(api, trigger, ISSUE, headers=keyed, timestamp=int(time.time()) - 5)
    assert first.status_code == 202 and retried.status_code == 200
    assert retried.json() == {"execution_id": first.json()["execution_id"], "created": False}

    raw = json.dumps(ISSUE).encode()
    signed = signature_header(trigger["secret"], int(time.time()), raw)
    replay = {"content-type": "application/json", SIGNATURE_HEADER: signed}
    original = await api.post(trigger["url"], content=raw, headers=replay)
    replayed = await api.post(trigger["url"], content=raw, headers=replay)
    assert original.status_code == 202 and replayed.status_code == 200
    assert replayed.json()["execution_id"] == original.json()["execution_id"]
    padded = {**replay, SIGNATURE_HEADER: signed.replace("v1=", "v1=00,v1=")}
    assert (await api.post(trigger["url"], content=raw, headers=padded)).status_code == 200


async def test_a_captured_delivery_replayed_with_new_unsigned_headers_starts_nothing(
    api: httpx.AsyncClient, owner
) -> None:
    """Attack: an eavesdropper replays a delivery inside the window, changing only what the
    signature does not cover (X-Request-Id, a v1 delivery's Idempotency-Key), or swapping the
    key of a v2 delivery. Each returns the original run or is refused; none starts one."""
    _member, headers = owner
    graph_id = await save_graph(api, headers, TICKET)
    trigger = await make_trigger(api, headers, graph_id, inputs=MAPPING)
    raw = json.dumps(ISSUE).encode()
    now = int(time.time())
    v1 = {"content-type": "application/json",
          SIGNATURE_HEADER: signature_header(trigger["secret"], now, raw)}  # fmt: skip
    captured = await api.post(trigger["url"], content=raw, headers={**v1, "X-Request-Id": "r-1"})
    assert captured.status_code == 202, captured.text
    for extra in ({"X-Request-Id": "r-2"}, {"Idempotency-Key": "fresh-1"},
                  {"X-Request-Id": "r-3", "Idempotency-Key": "fresh-2"}):  # fmt: skip
        replayed = await api.post(trigger["url"], content=raw, headers={**v1, **extra})
        assert replayed.status_code == 200, (extra, replayed.text)
        assert replayed.json() == {
            "execution_id": captured.json()["execution_id"],
            "created": False,
        }

    signed_v2 = signature_header(trigger["secret"], now, raw, idempotency_key="order-7")
    v2 = {"content-type": "application/json", SIGNATURE_HEADER: signed_v2}
    original = await api.post(
        trigger["url"], content=raw, headers={**v2, "Idempotency-Key": "order-7"}
    )
    assert original.status_code == 202, original.text
    swapped = await api.post(
        trigger["url"], content=raw, headers={**v2, "Idempotency-Key": "order-8"}
    )
    assert swapped.status_code == 401
    unkeyed = await api.post(trigger["url"], content=raw, headers=v2)
    assert unkeyed.status_code == 401 and "Idempotency-Key" in unkeyed.json()["detail"]
    both = f"{v1[SIGNATURE_HEADER]},v2={signed_v2.partition('v2=')[2]}"
    downgraded = await api.post(
        trigger["url"], content=raw,
        headers={**v1, SIGNATURE_HEADER: both, "Idempotency-Key": "order-9"},
    )  # fmt: skip
    assert downgraded.status_code == 401 and "both" in downgraded.json()["detail"]
    dotted = signature_header(trigger["secret"], now, raw, idempotency_key="a.b")
    refused = await api.post(
        trigger["url"], content=raw,
        headers={**v1, SIGNATURE_HEADER: dotted, "Idempotency-Key": "a.b"},
    )  # fmt: skip
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["loc"] == ["header", "idempotency-key"]


@pytest.mark.parametrize(
    ("signature", "detail"),
    [
        (None, "send the X-Auterity-Signature header"),
        ("v1=abc", "malformed"),
        ("t=now,v1=abc", "malformed"),
        ("t=1700000000", "malformed"),
        ("wrong-secret", "does not match"),
        ("tampered", "does not match"),
        ("stale", "within 300s"),
        ("future", "within 300s"),
    ],
)
async def test_bad_signatures_are_401(
    api: httpx.AsyncClient, owner, signature: str | None, detail: str
) -> None:
    _member, headers = owner
    graph_id = await save_graph(api, headers, TICKET)
    trigger = await make_trigger(api, headers, graph_id, inputs=MAPPING)
    raw = json.dumps(ISSUE).encode()
    now = int(time.time())
    values = {
        "wrong-secret": signature_header("whsec_not-the-secret", now, raw),
        "tampered": signature_header(trigger["secret"], now, raw + b" "),
        "stale": signature_header(trigger["secret"], now - 301, raw),
        "future": signature_header(trigger["secret"], now + 400, raw),
    }
    sent = {"content-type": "application/json"}
    if signature is not None:
        sent[SIGNATURE_HEADER] = values.get(signature, signature)
    reason = "expired" if signature in ("stale", "future") else "invalid"
    refused = await metric(api, "auterity_tokens_refused_total", kind="webhook_signature",
                           reason=reason)  # fmt: skip
    response = await api.post(trigger["url"], content=raw, headers=sent)
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert detail in response.json()["detail"]
    assert (
        await metric(api, "auterity_tokens_refused_total", kind="webhook_signature", reason=reason)
        == refused + 1
    )


async def test_unknown_and_disabled_triggers_are_404(api: httpx.AsyncClient, owner) -> None:
    _member, headers = owner
    graph_id = await save_graph(api, headers, TICKET)
    trigger = await make_trigger(api, headers, graph_id, enabled=False)
    assert (await deliver(api, trigger, {"title": "x"})).status_code == 404
    unknown = {**trigger, "url": "/v1/hooks/wh_000000000000000000000000"}
    assert (await deliver(api, unknown, {"title": "x"})).status_code == 404
    enabled = await api.patch(
        f"/v1/triggers/{trigger['id']}", json={"enabled": True}, headers=headers
    )
    assert enabled.status_code == 200
    assert (await deliver(api, trigger, {"title": "x"})).status_code == 202


@pytest.mark.parametrize(
    ("payload", "loc", "detail"),
    [
        (b'{"issue": ', ["body"], "the body is not JSON"),
        (b"\xff\xfe", ["body"], "not UTF-8"),
        ({"issue": {"labels": []}}, ["inputs", "title"], "input 'title' could not be mapped"),
        ({"issue": {"title": "x", "labels": 3}}, ["inputs", "priority"], "input 'priority'"),
        ({"issue": {"title": 42, "labels": []}}, ["body", "inputs", "title"], "title"),
    ],
)
async def test_bad_deliveries_are_422_naming_what(
    api: httpx.AsyncClient, owner, payload: Any, loc: list[Any], detail: str
) -> None:
    _member, headers = owner
    graph_id = await save_graph(api, headers, TICKET)
    trigger = await make_trigger(api, headers, graph_id, inputs=MAPPING)
    response = await deliver(api, trigger, payload)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == loc
    assert detail in response.json()["detail"]


async def test_a_mapping_over_its_budget_is_a_422_rendered_off_the_event_loop(
    api: httpx.AsyncClient, owner
) -> None:
    """Attack: a mapping looping 9 million times used to render to completion on the API's
    event loop, stalling every other request meanwhile."""
    _member, headers = owner
    graph_id = await save_graph(api, headers, TICKET)
    loop = "{% for a in body.s %}{% for b in body.s %}{% endfor %}{% endfor %}x"
    trigger = await make_trigger(api, headers, graph_id, inputs={"title": loop})
    latencies: list[float] = []
    done = asyncio.Event()

    async def poll_health() -> None:
        while not done.is_set():
            started = time.monotonic()
            assert (await api.get("/healthz")).status_code == 200
            latencies.append(time.monotonic() - started)
            await asyncio.sleep(0.01)

    poller = asyncio.create_task(poll_health())
    started = time.monotonic()
    response = await deliver(api, trigger, {"s": "x" * 3000})
    rendering = time.monotonic() - started
    done.set()
    await poller
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["inputs", "title"]
    detail = response.json()["detail"]
    assert detail.startswith("input 'title' could not be mapped from the delivery: ")
    assert "budget of 1,000,000 steps" in detail
    assert len(latencies) >= 3 and max(latencies) < max(rendering / 3, 0.05), (
        rendering,
        latencies,
    )


async def test_a_mapping_the_sandbox_would_refuse_is_refused_with_the_trigger(
    api: httpx.AsyncClient, owner
) -> None:
    _member, headers = owner
    graph_id = await save_graph(api, headers, TICKET)
    body = {"name": "x", "graph_id": graph_id, "inputs": {"title": "{{ body.__class__ }}"}}
    response = await api.post("/v1/triggers", json=body, headers=headers)
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert (error["loc"], error["position"]) == (["body", "inputs", "title"], 7)
    assert "'.__class__' is not readable" in error["msg"]


def test_hook_url_is_absolute_with_a_public_url() -> None:
    assert hook_url(load_settings(env="test"), "wh_1") == "/v1/hooks/wh_1"
    public = load_settings(env="test", public_url="https://auterity.example.com/")
    assert hook_url(public, "wh_1") == "https://auterity.example.com/v1/hooks/wh_1"
