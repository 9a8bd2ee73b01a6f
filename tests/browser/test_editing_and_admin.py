"""Editing by keyboard (copy, paste, undo, redo, delete), expression completion, versions
and their diff, a resume link decided without an account, cancelling a run, and the
administration pages that show a secret once."""

from __future__ import annotations

import uuid
from typing import Any

from tests.browser.stack import Stack, join, sign_in
from tests.browser.test_runs_and_tasks import APPROVAL_GRAPH, start

TWO_NODES = {
    "name": "two-nodes",
    "inputs": {"type": "object", "properties": {"city": {"type": "string"}}},
    "vars": {"greeting": "hello"},
    "nodes": [
        {"id": "a", "type": "transform", "config": {"value": "x"}, "position": {"x": 0, "y": 0}},
        {"id": "b", "type": "transform", "config": {"value": "y"}, "position": {"x": 300, "y": 0}},
    ],
    "edges": [{"from": "a", "to": "b"}],
}


def nodes(page: Any) -> list[str]:
    return sorted(
        page.locator(".react-flow__node").evaluate_all("els => els.map(e => e.dataset.id)")
    )


def test_copy_paste_undo_redo_delete_and_completion(page: Any, stack: Stack, shot: Any) -> None:
    with stack.client() as api:
        graph = api.post("/v1/graphs", json=TWO_NODES).json()
    sign_in(page, stack, f"/graphs/{graph['id']}")
    page.locator('.react-flow__node[data-id="a"]').click()
    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")
    page.locator('.react-flow__node[data-id="transform"]').wait_for()
    assert nodes(page) == ["a", "b", "transform"]
    page.keyboard.press("Control+z")
    page.locator('.react-flow__node[data-id="transform"]').wait_for(state="detached")
    page.keyboard.press("Control+Shift+z")
    page.locator('.react-flow__node[data-id="transform"]').wait_for()
    page.locator('.react-flow__node[data-id="transform"]').click()
    page.keyboard.press("Delete")
    page.locator('.react-flow__node[data-id="transform"]').wait_for(state="detached")
    assert nodes(page) == ["a", "b"]

    page.locator('.react-flow__node[data-id="b"]').click()
    value = page.locator('[data-field="config.value"]').locator("input, textarea").first
    value.fill("")
    value.type("{{ nodes.")
    page.get_by_role("option", name="a upstream node").wait_for()
    page.keyboard.press("Enter")
    page.get_by_role("option", name="output").wait_for()
    page.keyboard.press("Enter")
    value.type(" | up")
    page.get_by_role("option", name="upper filter").wait_for()
    page.keyboard.press("Enter")
    value.type(" ~ inputs.")
    page.get_by_role("option", name="city input").wait_for()
    shot("completion")
    page.keyboard.press("Escape")
    value.type("city }} {{ vars.greeting }}")
    assert value.input_value() == "{{ nodes.a.output | upper ~ inputs.city }} {{ vars.greeting }}"
    page.locator('[data-testid="validation"][data-state="valid"]').wait_for()
    page.keyboard.press("Control+s")
    page.get_by_role("status").filter(has_text="Saved as version 2").wait_for()

    page.get_by_role("tab", name="Versions").click()
    page.get_by_label("Select version 1 to compare").check()
    page.get_by_label("Select version 2 to compare").check()
    page.get_by_role("button", name="Compare v1 → v2").click()
    page.get_by_test_id("diff-list").get_by_text("b changed").wait_for()
    assert "config" in page.get_by_test_id("diff-list").inner_text()
    page.locator('[data-testid="node-b"]').wait_for()
    shot("diff")
    page.get_by_role("button", name="Back to the editor").click()
    page.get_by_role("tab", name="Versions").click()
    page.get_by_role("button", name="Open version 1").click()
    page.get_by_role("heading", name="two-nodes — version 1 (read-only)").wait_for()
    page.locator('.react-flow__node[data-id="b"]').click()
    assert (
        page.locator(
            '[data-field="config.value"] textarea, [data-field="config.value"] input'
        ).first.input_value()
        == "y"
    )
    shot("version-1")


def test_a_resume_link_works_without_signing_in(browser: Any, stack: Stack, shot: Any) -> None:
    run_id = start(stack, {**APPROVAL_GRAPH, "name": "resume-approval"})
    with stack.client() as api:
        for _ in range(120):
            tasks = api.get("/v1/tasks", params={"execution_id": run_id}).json()
            if tasks:
                break
            page_wait = 0.5
            import time

            time.sleep(page_wait)
        # The link is for a person the task is assigned to (an owner here), who decides
        # from the link without signing in.
        colleague = f"colleague-{uuid.uuid4().hex[:8]}@example.org"
        join(api, colleague, ["owner"], "a colleague passphrase 42")
        created = api.post(
            f"/v1/tasks/{tasks[0]['id']}/resume-links", json={"assignee": f"user:{colleague}"}
        )
        assert created.status_code == 201, created.text
        link = created.json()
    stranger = browser.new_context(viewport={"width": 390, "height": 844})
    page = stranger.new_page()
    page.goto(f"{stack.url}/resume?token={link['token']}")
    page.get_by_role("heading", name="Ship release 1.4?").wait_for()
    page.get_by_label("Comment").fill("Not this week.")
    page.get_by_role("button", name="Rejected").click()
    page.get_by_text("Decided rejected").wait_for()
    page.screenshot(path=str(shot("resume").parent / "02-decided.png"))
    stranger.close()
    with stack.client() as api:
        done = api.get(f"/v1/tasks/{tasks[0]['id']}").json()
    assert done["decision"] == "rejected" and done["completed_by"] == f"user:{colleague}"


def test_cancel_a_waiting_run(page: Any, stack: Stack, shot: Any) -> None:
    run_id = start(stack, {**APPROVAL_GRAPH, "name": "cancel-me"})
    sign_in(page, stack, f"/runs/{run_id}")
    page.locator('[data-testid="node-ask"][data-status="running"]').wait_for(timeout=60_000)
    page.get_by_role("button", name="Cancel run").click()
    page.locator('[data-testid="run-status"][data-status="cancelled"]').wait_for(timeout=60_000)
    shot("cancelled")


def test_an_api_key_is_shown_once_and_the_audit_chain_verifies(
    page: Any, stack: Stack, shot: Any
) -> None:
    sign_in(page, stack, "/admin/api-keys")
    page.get_by_role("button", name="New API key").click()
    page.get_by_role("dialog", name="New API key").get_by_label("Name").fill("dashboard")
    page.get_by_role("button", name="Create").click()
    key = page.get_by_label("The key (shown this once: copy it now)").inner_text()
    assert key.startswith("ak_") or len(key) > 20, key
    shot("key-shown-once")
    page.get_by_role("button", name="I have copied it").click()
    page.get_by_role("cell", name="dashboard").wait_for()
    assert key not in page.content()
    page.get_by_role("link", name="Audit trail").click()
    page.get_by_role("cell", name="api_keys.created").first.wait_for()
    page.get_by_role("button", name="Verify the chain").click()
    page.get_by_text("Chain verified").wait_for()
    shot("audit-verified")
