"""A person joins through an invitation, as they would: the admin invites them on the
People page, they open the link, create their account and land in the builder."""

from __future__ import annotations

import uuid
from typing import Any

from tests.browser.stack import Stack, sign_in


def test_an_invited_person_creates_an_account_from_the_link(
    page: Any, browser: Any, stack: Stack, shot: Any
) -> None:
    sign_in(page, stack, "/admin/users")
    email = f"grace-{uuid.uuid4().hex[:8]}@example.com"
    page.get_by_role("button", name="Add a person").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Email").fill(email)
    dialog.get_by_label("editor").check()
    dialog.get_by_label("viewer").uncheck()
    dialog.get_by_role("button", name="Invite").click()
    link = dialog.get_by_label("Invitation link (shown once)").inner_text()
    assert link.startswith(f"{stack.url}/join?token=")
    shot("invited")

    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        person = context.new_page()
        person.goto(link)
        person.get_by_role("heading", name="You are invited to Auterity").wait_for()
        person.get_by_label("Your name").fill("Grace Hopper")
        person.get_by_label("Password").fill("a long passphrase for grace 42")
        person.get_by_role("button", name="Create my account and join").click()
        person.wait_for_url("**/graphs")
        person.get_by_role("heading", name="Graphs").wait_for()
        shot("joined")
        # The link worked once: opened again, it is refused, naming why.
        again = context.new_page()
        again.goto(link)
        again.get_by_label("Your name").fill("Someone else")
        again.get_by_label("Password").fill("another passphrase 42")
        again.get_by_role("button", name="Create my account and join").click()
        again.get_by_role("alert").wait_for()
    finally:
        context.close()
    with stack.client() as admin:
        people = {p["email"]: p for p in admin.get("/v1/users").json()["items"]}
    assert people[email]["roles"] == ["editor"]


def test_an_incomplete_link_says_so(page: Any, stack: Stack) -> None:
    page.goto(f"{stack.url}/join")
    page.get_by_role("alert").filter(has_text="no invitation token").wait_for()
