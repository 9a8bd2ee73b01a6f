"""Every page, with something on it, has no serious or critical axe-core violation, and the
main path is reachable from the keyboard."""

from __future__ import annotations

from typing import Any

from tests.browser.stack import Stack, describe_violations, serious_violations, sign_in
from tests.browser.test_runs_and_tasks import APPROVAL_GRAPH


def seed(stack: Stack) -> dict[str, str]:
    """A graph with two versions, a waiting run and its task, a webhook, a schedule, a
    secret and an API key: the pages then show tables, forms and canvases, not empty states."""
    with stack.client() as api:
        graph = api.post("/v1/graphs", json={**APPROVAL_GRAPH, "name": "a11y-graph"}).json()
        second = {**APPROVAL_GRAPH, "name": "a11y-graph", "description": "second version"}
        assert api.put(f"/v1/graphs/{graph['id']}", json=second).status_code == 200
        run = api.post(f"/v1/graphs/{graph['id']}/executions", json={"inputs": {}}).json()
        api.post("/v1/triggers", json={"name": "a11y hook", "graph_id": graph["id"]})
        api.post(
            "/v1/schedules",
            json={"name": "a11y nightly", "graph_id": graph["id"], "cron": ["0 3 * * *"]},
        )
        api.put("/v1/secrets/A11Y_TOKEN", json={"value": "s3cret"})
        api.post("/v1/api-keys", json={"name": "a11y key", "scopes": ["graphs:read"]})
        for _ in range(120):
            tasks = api.get("/v1/tasks", params={"execution_id": run["id"]}).json()
            if tasks:
                break
            import time

            time.sleep(0.5)
        return {"graph": graph["id"], "run": run["id"], "task": tasks[0]["id"]}


def test_no_serious_violation_on_any_page(page: Any, stack: Stack, shot: Any) -> None:
    ids = seed(stack)
    page.goto(f"{stack.url}/login")
    page.get_by_role("heading", name="Sign in to Auterity").wait_for()
    found = {"/login": serious_violations(page)}
    page.goto(f"{stack.url}/resume?token=not-a-real-token-but-long-enough")
    page.get_by_role("alert").first.wait_for()
    found["/resume"] = serious_violations(page)
    sign_in(page, stack)
    pages = [
        ("/graphs", "a11y-graph"),
        (f"/graphs/{ids['graph']}", "Select a node to configure it."),
        (f"/graphs/{ids['graph']}?version=1", "(read-only)"),
        (f"/graphs/{ids['graph']}?compare=1,2", "Changes"),
        ("/runs", "Runs"),
        (f"/runs/{ids['run']}", "Inputs"),
        ("/templates", "Summarize a web page"),
        ("/templates/ticket-triage", "Parameters"),
        ("/tasks", "Ship release 1.4?"),
        (f"/tasks/{ids['task']}", "Comment"),
        ("/admin/users", "admin@example.com"),
        ("/admin/roles", "owner"),
        ("/admin/api-keys", "a11y key"),
        ("/admin/secrets", "A11Y_TOKEN"),
        ("/admin/triggers", "a11y hook"),
        ("/admin/schedules", "a11y nightly"),
        ("/admin/audit", "graph.create"),
        ("/nowhere", "Page not found"),
    ]
    for path, text in pages:
        page.evaluate(
            "path => { history.pushState({}, '', path); dispatchEvent(new PopStateEvent('popstate')); }",
            path,
        )
        page.get_by_text(text).first.wait_for()
        page.wait_for_timeout(300)
        found[path] = serious_violations(page)
    # The editor with a node open, its form and completion list.
    page.evaluate(
        "path => { history.pushState({}, '', path); dispatchEvent(new PopStateEvent('popstate')); }",
        f"/graphs/{ids['graph']}",
    )
    page.locator('.react-flow__node[data-id="ask"]').click()
    page.locator('[data-node-panel="ask"]').wait_for()
    found["editor, node panel"] = serious_violations(page)
    shot("editor-node-panel")
    bad = {path: violations for path, violations in found.items() if violations}
    assert not bad, describe_violations([{"page": p, "violations": v} for p, v in bad.items()])


def test_the_editor_is_reachable_from_the_keyboard(page: Any, stack: Stack, shot: Any) -> None:
    sign_in(page, stack)
    page.get_by_role("button", name="New graph").wait_for()
    # Tab from the top of the page to the New graph button, then drive the dialog by keys.
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement?.textContent") == "New graph":
            break
    else:
        raise AssertionError("Tab never reached the New graph button")
    page.keyboard.press("Enter")
    page.get_by_role("dialog", name="New graph").wait_for()
    page.keyboard.type("keyboard-made")
    page.keyboard.press("Enter")
    page.wait_for_url("**/graphs/gr_*")
    # The palette adds a node with Enter; the node panel is then open on it.
    page.locator('[data-kind="transform"]').focus()
    page.keyboard.press("Enter")
    page.locator('[data-node-panel="transform"]').wait_for()
    page.locator("#node-label").focus()
    page.keyboard.type("From the keyboard")
    page.locator('.react-flow__node[data-id="transform"]').get_by_text(
        "From the keyboard"
    ).wait_for()
    page.keyboard.press("Control+s")
    page.get_by_role("status").filter(has_text="Saved as version 2").wait_for()
    shot("keyboard")
