"""The builder as a user feels it: bundle size, opening a 200-node graph, dragging on it,
and axe-core's serious violations. On demand, not part of `make test`:

    .venv/bin/python -m tests.benchmarks.web

It starts a real `auterity dev` stack and headless Debian chromium, as the browser tests
do. Needs the builder built (`make web`). The last line is

    RESULT bundle_kb=<n> gzip_kb=<n> open200_ms=<n> drag_frame_ms=<n> axe_serious=<n>

- bundle_kb, gzip_kb: every file of web/dist (fonts included), raw and gzipped (-9).
- open200_ms: from the client-side navigation to a 200-node graph until all 200 nodes are
  drawn, measured and fitted in view; the first open in a fresh tab (editor code not yet
  loaded), then the median of three more opens is printed too.
- drag_frame_ms: the 95th percentile of frame intervals (requestAnimationFrame) while one
  node is dragged across the canvas for 120 mouse moves; the worst frame is printed too.
- axe_serious: serious and critical axe-core violations summed over the main pages.
"""

from __future__ import annotations

import gzip
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.browser.stack import (
    CHROMIUM_ARGS,
    WEB_DIST,
    Stack,
    chromium_executable,
    dev_stack,
    serious_violations,
    sign_in,
)

NODES = 200


def bundle_sizes() -> tuple[float, float]:
    files = [path for path in WEB_DIST.rglob("*") if path.is_file() and path.name != ".built"]
    raw = sum(path.stat().st_size for path in files)
    packed = sum(len(gzip.compress(path.read_bytes(), compresslevel=9)) for path in files)
    return raw / 1024, packed / 1024


def big_graph(count: int = NODES) -> dict[str, Any]:
    """Twenty layers of ten transforms; each node reads two of the layer before."""
    width = 10
    nodes, edges = [], []
    for index in range(count):
        layer, slot = divmod(index, width)
        node: dict[str, Any] = {
            "id": f"n{index}",
            "type": "transform",
            "config": {"value": f"{{{{ inputs.x }}}} {index}"},
            "position": {"x": layer * 260, "y": slot * 110},
        }
        nodes.append(node)
        if layer:
            for parent in {(layer - 1) * width + slot, (layer - 1) * width + (slot + 1) % width}:
                edges.append({"from": f"n{parent}", "to": f"n{index}"})
    return {
        "name": f"bench-{count}-nodes",
        "inputs": {"type": "object", "properties": {"x": {"type": "string"}}},
        "nodes": nodes,
        "edges": edges,
    }


OPEN = """async ([path, count]) => {
    const start = performance.now();
    history.pushState({}, "", path);
    dispatchEvent(new PopStateEvent("popstate"));
    const ready = () => {
        const nodes = document.querySelectorAll(".react-flow__node");
        if (nodes.length !== count) return false;
        for (const node of nodes) if (node.style.visibility === "hidden") return false;
        const viewport = document.querySelector(".react-flow__viewport");
        return viewport && viewport.style.transform && !viewport.style.transform.includes("scale(1)");
    };
    while (!ready()) {
        await new Promise(requestAnimationFrame);
        if (performance.now() - start > 30000) throw new Error("the graph did not open in 30 s");
    }
    return performance.now() - start;
}"""

RECORD_FRAMES = """() => {
    window.__frames = [];
    window.__recording = true;
    let last = performance.now();
    const tick = (now) => {
        window.__frames.push(now - last);
        last = now;
        if (window.__recording) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
}"""


def open_ms(page: Any, path: str) -> float:
    return float(page.evaluate(OPEN, [path, NODES]))


def drag_frames(page: Any) -> list[float]:
    box = page.locator('.react-flow__node[data-id="n105"]').bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + 12
    page.mouse.move(x, y)
    page.mouse.down()
    page.evaluate(RECORD_FRAMES)
    for step in range(120):
        page.mouse.move(x + step * 3, y + (step % 20) * 2)
        page.wait_for_timeout(8)
    page.mouse.up()
    frames = page.evaluate("() => { window.__recording = false; return window.__frames; }")
    return [float(frame) for frame in frames[1:]]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def measure(stack: Stack, browser: Any) -> dict[str, float]:
    with stack.client() as api:
        graph = api.post("/v1/graphs", json=big_graph())
        graph.raise_for_status()
        path = f"/graphs/{graph.json()['id']}"
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    sign_in(page, stack)
    first = open_ms(page, path)
    again = []
    for _ in range(3):
        page.evaluate(
            "() => { history.pushState({}, '', '/graphs'); dispatchEvent(new PopStateEvent('popstate')); }"
        )
        page.get_by_role("heading", name="Graphs").wait_for()
        again.append(open_ms(page, path))
    frames = drag_frames(page)
    axe = 0
    for where in ["/graphs", path, "/runs", "/templates", "/tasks", "/admin/users", "/admin/audit"]:
        page.evaluate(
            "p => { history.pushState({}, '', p); dispatchEvent(new PopStateEvent('popstate')); }",
            where,
        )
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(500)
        found = serious_violations(page)
        for violation in found:
            print(f"  axe {where}: {violation['impact']} {violation['id']}: {violation['help']}")
        axe += len(found)
    context.close()
    print(
        f"open 200 nodes: first {first:.0f} ms, then {', '.join(f'{v:.0f}' for v in again)} ms (median {statistics.median(again):.0f})"
    )
    print(
        f"drag: {len(frames)} frames, median {statistics.median(frames):.1f} ms, p95 {percentile(frames, 0.95):.1f} ms, worst {max(frames):.1f} ms"
    )
    return {"open200_ms": first, "drag_frame_ms": percentile(frames, 0.95), "axe_serious": axe}


def main() -> int:
    chromium = chromium_executable()
    if chromium is None or not (WEB_DIST / "index.html").is_file():
        print("needs Debian's chromium (apt-get install chromium) and a built builder (make web)")
        return 2
    raw, packed = bundle_sizes()
    print(f"bundle: {raw:.0f} KB, gzip {packed:.0f} KB (web/dist, fonts included)")
    from playwright.sync_api import sync_playwright

    with (
        tempfile.TemporaryDirectory() as home,
        dev_stack(Path(home)) as stack,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            results = measure(stack, browser)
        finally:
            browser.close()
    print(
        f"RESULT bundle_kb={raw:.0f} gzip_kb={packed:.0f} open200_ms={results['open200_ms']:.0f} "
        f"drag_frame_ms={results['drag_frame_ms']:.1f} axe_serious={results['axe_serious']:.0f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
