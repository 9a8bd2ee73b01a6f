"""Browser fixtures: one real `auterity dev` stack and one headless chromium for the whole
package; a fresh browser context (so a fresh in-memory session) per test.

Skipped when chromium is missing, except under CI, where that is a failure (like
PostgreSQL). The builder must be built (`make test` builds it)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.stack import (
    CHROMIUM_ARGS,
    SCREENSHOTS,
    WEB_DIST,
    Stack,
    chromium_executable,
    dev_stack,
)
from tests.conftest import IN_CI


@pytest.fixture(scope="package")
def chromium() -> str:
    found = chromium_executable()
    if found is None:
        if IN_CI:
            pytest.fail("chromium is not installed, and the browser tests are mandatory in CI")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    if not (WEB_DIST / "index.html").is_file():
        if IN_CI:
            pytest.fail("web/dist is not built; `make test` builds it")
        pytest.skip("web/dist is not built (make web)")
    return found


@pytest.fixture(scope="package")
def stack(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with dev_stack(tmp_path_factory.mktemp("browser-stack")) as running:
        yield running


@pytest.fixture(scope="package")
def browser(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, stack: Stack, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(30_000)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    # Nothing is loaded from anywhere but the stack itself (no CDN for fonts, icons, code).
    elsewhere: list[str] = []
    local = (stack.url, stack.url.replace("http:", "ws:"), "data:", "blob:", "about:")
    opened.on(
        "request",
        lambda sent: None if sent.url.startswith(local) else elsewhere.append(sent.url),
    )
    yield opened
    folder = SCREENSHOTS / re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    opened.screenshot(path=str(folder / "zz-last.png"))
    context.close()
    assert not errors, f"the page threw: {errors}"
    assert not elsewhere, f"the builder loaded from outside the stack: {elsewhere}"


@pytest.fixture
def shot(page: Any, request: pytest.FixtureRequest) -> Callable[[str], Path]:
    """`shot("name")` saves a screenshot under web/test-results/screenshots/<test>/."""
    folder = SCREENSHOTS / re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    count = 0

    def take(name: str) -> Path:
        nonlocal count
        count += 1
        path = folder / f"{count:02d}-{name}.png"
        page.screenshot(path=str(path))
        return path

    return take
