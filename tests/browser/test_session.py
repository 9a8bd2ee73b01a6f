"""Signing in and out, as a person does; a 401 returns to sign-in with the page remembered."""

from __future__ import annotations

import contextlib
import re
import uuid
from typing import Any

from playwright.sync_api import Error as PlaywrightError

from tests.browser.stack import Stack, join, sign_in


def test_sign_in_returns_to_the_page_asked_for(page: Any, stack: Stack, shot: Any) -> None:
    page.goto(f"{stack.url}/runs?status=failed")
    page.wait_for_url("**/login?next=*")
    shot("sign-in")
    page.get_by_label("Email").fill(stack.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_role("alert").filter(has_text="invalid").wait_for()
    shot("wrong-password")
    page.get_by_label("Password").fill(stack.password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url("**/runs?status=failed")
    page.get_by_role("heading", name="Runs").wait_for()
    assert page.get_by_label("Status").input_value() == "failed"
    shot("landed")


def test_tokens_stay_in_memory_and_sign_out_ends_the_session(
    page: Any, stack: Stack, shot: Any
) -> None:
    sign_in(page, stack)
    stored = page.evaluate(
        "() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), document.cookie])"
    )
    assert "ey" not in stored and "art_" not in stored, stored
    page.get_by_role("button", name="admin@example.com").click()
    page.get_by_role("menuitem", name="Sign out").click()
    page.wait_for_url("**/login")
    page.goto(f"{stack.url}/graphs")
    page.wait_for_url("**/login?next=%2Fgraphs")
    shot("signed-out")


def test_a_revoked_session_returns_to_sign_in_remembering_the_page(
    page: Any, stack: Stack, shot: Any
) -> None:
    with stack.client() as admin:
        email = f"viewer-{uuid.uuid4().hex[:8]}@example.com"
        join(admin, email, ["viewer"], "a viewer passphrase 42")
        user_id = next(
            person["id"]
            for person in admin.get("/v1/users").json()["items"]
            if person["email"] == email
        )
        page.goto(f"{stack.url}/templates")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill("a viewer passphrase 42")
        page.get_by_role("button", name="Sign in", exact=True).click()
        page.get_by_role("heading", name="Templates").wait_for()
        # An admin deactivates the member elsewhere: their access and refresh tokens stop
        # working, so the next call answers 401 and the refresh cannot cure it.
        assert admin.delete(f"/v1/users/{user_id}").status_code == 204
    # The next call that meets the 401 sends the person to sign in, remembering the page
    # they were on: the Runs page they open now, or, if a background refresh of the
    # Templates page got there first, that page (the link is then gone).
    runs = page.get_by_role("link", name="Runs")
    with contextlib.suppress(PlaywrightError):
        runs.click(timeout=5_000)
    page.wait_for_url(re.compile(r"/login\?next=%2F(runs|templates)$"))
    page.get_by_role("heading", name="Sign in to Auterity").wait_for()
    shot("back-to-sign-in")
