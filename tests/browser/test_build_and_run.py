"""The first thing a new user does: draw http → condition → two branches → merge by
dragging from the palette and connecting handles, see a mistake on the right field and
fix it, save, run with inputs and watch the nodes finish live."""

from __future__ import annotations

from typing import Any

from tests.browser.stack import Stack, sign_in


def node(page: Any, node_id: str) -> Any:
    return page.locator(f'.react-flow__node[data-id="{node_id}"]')


def handle(page: Any, node_id: str, handle_id: str) -> Any:
    return node(page, node_id).locator(f'.react-flow__handle[data-handleid="{handle_id}"]')


def drop(page: Any, kind: str, x: int, y: int) -> None:
    """Drag a kind from the palette onto the canvas at (x, y) of the canvas."""
    page.locator(f'aside[aria-label="Node palette"] [data-kind="{kind}"]').drag_to(
        page.locator(".react-flow__pane"), target_position={"x": x, "y": y}
    )


def connect(page: Any, source: str, source_handle: str, target: str) -> None:
    """Press on a source handle, move to the target's input handle, release."""
    start = handle(page, source, source_handle).bounding_box()
    end = handle(page, target, "in").bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=8)
    page.mouse.up()


def field(page: Any, path: str) -> Any:
    return page.locator(f'[data-field="{path}"]')


def select_node(page: Any, node_id: str) -> None:
    node(page, node_id).click()
    page.locator(f'[data-node-panel="{node_id}"]').wait_for()


def test_draw_validate_save_run_and_watch(page: Any, stack: Stack, shot: Any) -> None:
    sign_in(page, stack)
    page.get_by_role("button", name="New graph").click()
    page.get_by_role("dialog", name="New graph").get_by_label("Name").fill("check-a-page")
    page.get_by_role("button", name="Create and open").click()
    page.wait_for_url("**/graphs/gr_*")
    page.get_by_text("Drag a node from the palette to start.").wait_for()

    page.get_by_role("tab", name="Graph").click()
    page.get_by_role("button", name="+ Add input").click()
    page.get_by_label("Input 1 name").fill("url")

    for kind, x, y in [
        ("http", 150, 120),
        ("condition", 420, 120),
        ("transform", 150, 420),
        ("transform", 420, 420),
        ("merge", 690, 270),
    ]:
        drop(page, kind, x, y)
    for node_id in ("http", "condition", "transform", "transform_2", "merge"):
        node(page, node_id).wait_for()
    shot("dropped")

    select_node(page, "http")
    field(page, "config.url").locator("input").fill("{{ inputs.url }}")

    # A mistake: the condition reads a node that is not upstream of it (no edge yet).
    select_node(page, "condition")
    field(page, "config.expression").locator("textarea").fill(
        "nodes.http.output.body.status == 'ok'"
    )
    error = page.locator('[data-field-error="config.expression"]')
    error.filter(has_text="node 'http' is not upstream of 'condition'").wait_for()
    page.get_by_test_id("issues-condition").wait_for()
    shot("mistake-on-the-field")

    # Saving is refused with the same marks.
    page.get_by_role("button", name="Save").click()
    page.get_by_role("status").filter(has_text="Not saved").wait_for()

    connect(page, "http", "out", "condition")
    connect(page, "condition", "true", "transform")
    connect(page, "condition", "false", "transform_2")
    connect(page, "transform", "out", "merge")
    connect(page, "transform_2", "out", "merge")
    page.get_by_role("button", name="Auto-layout").click()
    assert page.locator(".react-flow__edge").count() == 5
    assert sorted(page.locator(".react-flow__edge-text").all_text_contents()) == ["false", "true"]

    select_node(page, "transform")
    field(page, "config.value").locator("input, textarea").first.fill("up")
    select_node(page, "transform_2")
    field(page, "config.value").locator("input, textarea").first.fill("down")

    page.locator('[data-testid="validation"][data-state="valid"]').wait_for()
    assert page.locator('[data-field-error="config.expression"]').count() == 0
    assert page.get_by_test_id("issues-condition").count() == 0
    page.get_by_role("button", name="Save").click()
    page.get_by_role("status").filter(has_text="Saved as version 2").wait_for()
    shot("saved")

    with stack.client() as api:
        graphs = api.get("/v1/graphs", params={"name": "check-a-page"}).json()
        saved = api.get(f"/v1/graphs/{graphs[0]['id']}").json()["definition"]
    assert {(e["from"], e["to"], e.get("when")) for e in saved["edges"]} == {
        ("http", "condition", None),
        ("condition", "transform", "true"),
        ("condition", "transform_2", "false"),
        ("transform", "merge", None),
        ("transform_2", "merge", None),
    }
    assert all(n["position"]["x"] >= 0 for n in saved["nodes"]), "positions are saved"

    page.get_by_role("button", name="▶ Run").click()
    dialog = page.get_by_role("dialog", name="Run the graph")
    dialog.locator('[data-field="url"] input').fill(f"{stack.url}/healthz")
    dialog.get_by_role("button", name="Start run").click()
    page.wait_for_url("**/runs/**")
    page.get_by_text("● live").or_(page.get_by_text("events ended")).first.wait_for()
    page.locator('[data-testid="run-status"][data-status="completed"]').wait_for(timeout=60_000)
    for node_id, status in [
        ("http", "succeeded"),
        ("condition", "succeeded"),
        ("transform", "succeeded"),
        ("transform_2", "skipped"),
        ("merge", "succeeded"),
    ]:
        page.locator(f'[data-testid="node-{node_id}"][data-status="{status}"]').wait_for()
    node(page, "http").click()
    inspector = page.locator('[data-inspector="http"]')
    inspector.get_by_text('"ok"').wait_for()
    assert inspector.get_by_test_id("attempts").inner_text() == "1"
    shot("run-finished")
