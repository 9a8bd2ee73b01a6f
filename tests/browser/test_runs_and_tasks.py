"""Runs a person watches and acts on: an approval decided from the inbox, a failed node
retried once the outside world is fixed, a template instantiated onto the canvas."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from tests.browser.stack import Stack, sign_in
from tests.support import serve

APPROVAL_GRAPH = {
    "name": "ship-with-approval",
    "nodes": [
        {
            "id": "ask",
            "type": "approval",
            "config": {
                "assignees": ["role:owner"],
                "title": "Ship release 1.4?",
                "description": "Everything is green.",
                "form": {"type": "object", "properties": {"ticket": {"type": "string"}}},
            },
            "position": {"x": 0, "y": 0},
        },
        {
            "id": "ship",
            "type": "transform",
            "config": {"value": "shipped"},
            "position": {"x": 300, "y": 0},
        },
    ],
    "edges": [{"from": "ask", "to": "ship", "when": "approved"}],
}


class Flaky:
    """An outside service that fails until it is fixed."""

    def __init__(self) -> None:
        self.fixed = False
        self.app = FastAPI()
        self.app.get("/price")(self.price)

    async def price(self) -> JSONResponse:
        if not self.fixed:
            return JSONResponse({"error": "database down"}, status_code=503)
        return JSONResponse({"price": 42})


@pytest.fixture
def flaky() -> Iterator[tuple[Flaky, str]]:
    service = Flaky()
    with serve(service.app) as url:
        yield service, url


def start(stack: Stack, graph: dict[str, Any], inputs: dict[str, Any] | None = None) -> str:
    with stack.client() as api:
        created = api.post("/v1/graphs", json=graph)
        assert created.status_code == 201, created.text
        run = api.post(
            f"/v1/graphs/{created.json()['id']}/executions", json={"inputs": inputs or {}}
        )
        assert run.status_code == 201, run.text
        return str(run.json()["id"])


def test_an_approval_decided_from_the_inbox_completes_the_run(
    page: Any, stack: Stack, shot: Any
) -> None:
    run_id = start(stack, APPROVAL_GRAPH)
    sign_in(page, stack, f"/runs/{run_id}")
    page.locator('[data-testid="node-ask"][data-status="running"]').wait_for(timeout=60_000)
    page.get_by_text("waiting", exact=True).first.wait_for(timeout=60_000)
    shot("waiting")

    page.get_by_role("link", name="Inbox").click()
    page.get_by_role("link", name="Ship release 1.4?").first.click()
    page.get_by_role("heading", name="Ship release 1.4?").wait_for()
    page.locator('[data-field="ticket"] input').fill("REL-14")
    page.get_by_label("Comment").fill("Go.")
    shot("task")
    page.get_by_role("button", name="Approved").click()
    page.get_by_text("Decided approved").wait_for()

    page.get_by_role("link", name="Open the run").click()
    page.locator('[data-testid="run-status"][data-status="completed"]').wait_for(timeout=60_000)
    page.locator('[data-testid="node-ship"][data-status="succeeded"]').wait_for()
    shot("completed")
    with stack.client() as api:
        task = api.get("/v1/tasks", params={"status": "completed", "execution_id": run_id}).json()
    assert task[0]["decision"] == "approved" and task[0]["data"] == {"ticket": "REL-14"}


def test_the_inbox_fits_a_phone(page: Any, stack: Stack, shot: Any) -> None:
    start(stack, {**APPROVAL_GRAPH, "name": "phone-approval"})
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, stack, "/tasks")
    page.get_by_role("link", name="Ship release 1.4?").first.wait_for(timeout=60_000)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"the inbox scrolls sideways on a phone ({width}px)"
    page.get_by_role("link", name="Ship release 1.4?").first.click()
    for name in ("Approved", "Rejected"):
        box = page.get_by_role("button", name=name).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["height"] >= 28
    shot("phone-task")


def test_retry_from_the_failed_node_reuses_what_succeeded(
    page: Any, stack: Stack, shot: Any, flaky: tuple[Flaky, str]
) -> None:
    service, url = flaky
    graph = {
        "name": "price-check",
        "inputs": {"type": "object", "properties": {"url": {"type": "string"}}},
        "nodes": [
            {"id": "prepare", "type": "transform", "config": {"value": "{{ inputs.url }}/price"}},
            {
                "id": "fetch",
                "type": "http",
                "config": {"url": "{{ nodes.prepare.output }}"},
                "retry": {"maximum_attempts": 2, "initial_interval": "100ms"},
            },
        ],
        "edges": [{"from": "prepare", "to": "fetch"}],
    }
    run_id = start(stack, graph, {"url": url})
    sign_in(page, stack, f"/runs/{run_id}")
    page.locator('[data-testid="run-status"][data-status="failed"]').wait_for(timeout=60_000)
    page.locator('[data-testid="node-fetch"][data-status="failed"]').wait_for()
    page.locator('.react-flow__node[data-id="fetch"]').click()
    inspector = page.locator('[data-inspector="fetch"]')
    inspector.get_by_role("alert").filter(has_text="503").wait_for()
    assert inspector.get_by_test_id("attempts").inner_text() == "2"
    shot("failed")

    service.fixed = True
    page.get_by_role("button", name="Retry from “fetch”").click()
    page.wait_for_url(lambda url: run_id.split(":")[-1] not in url)
    page.locator('[data-testid="run-status"][data-status="completed"]').wait_for(timeout=60_000)
    page.locator('.react-flow__node[data-id="prepare"]').click()
    page.locator('[data-inspector="prepare"]').get_by_text(
        "output taken from the earlier run"
    ).wait_for()
    page.locator('.react-flow__node[data-id="fetch"]').click()
    page.locator('[data-inspector="fetch"]').get_by_text("42", exact=True).wait_for()
    shot("retried")


def test_a_template_instantiated_opens_on_the_canvas(page: Any, stack: Stack, shot: Any) -> None:
    sign_in(page, stack, "/templates")
    page.get_by_role("link", name="Summarize a web page").click()
    page.get_by_role("heading", name="Parameters").wait_for()
    words = page.locator('[data-field="max_words"] input')
    words.fill("80")
    shot("parameters")
    page.get_by_role("button", name="Create graph from template").click()
    page.wait_for_url("**/graphs/gr_*")
    for node_id in ("fetch", "summarize", "result"):
        page.locator(f'.react-flow__node[data-id="{node_id}"]').wait_for()
    page.locator('[data-testid="validation"][data-state="valid"]').wait_for()
    page.locator('.react-flow__node[data-id="summarize"]').click()
    prompt = page.locator('[data-field="config.prompt"] textarea').input_value()
    assert "80" in prompt, prompt
    shot("on-the-canvas")
