"""Single sign-on in the builder: the admin sets up OpenID Connect on its page, a member
signs in with "Sign in with SSO" through a real provider on loopback and lands where they
were going."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.browser.stack import Stack
from tests.oidc_provider import OidcProvider, Subject, serve_provider

OWNER_PASSWORD = "an sso owner passphrase 42"


@dataclass
class Organization:
    slug: str
    domain: str
    owner: str


def _cli(stack: Stack, *args: str, stdin: str = "") -> str:
    """The command line against the stack's own database, as an operator would run it."""
    env = dict(os.environ, AUTERITY_HOME=str(stack.home))
    env.pop("AUTERITY_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "auterity.cli", *args],
        env=env, input=stdin, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def organization(stack: Stack) -> Organization:
    """A tenant that verified its email domain, with an owner who signs in by password."""
    slug = f"sso{uuid.uuid4().hex[:8]}"
    domain = f"{slug}.example"
    _cli(stack, "tenant", "create", slug, "--name", "Acme SSO", "--domain", domain)
    owner = f"owner@{domain}"
    _cli(stack, "user", "create", owner, "--tenant", slug, "--password-stdin",
         stdin=OWNER_PASSWORD + "\n")  # fmt: skip
    return Organization(slug=slug, domain=domain, owner=owner)


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    with serve_provider() as running:
        yield running


def _sign_in_with_password(page: Any, stack: Stack, email: str, path: str) -> None:
    page.goto(f"{stack.url}{path}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(OWNER_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(f"**{path}")


def test_admin_sets_up_oidc_and_a_member_signs_in_with_sso(
    page: Any, browser: Any, stack: Stack, organization: Organization, provider: OidcProvider,
    shot: Any,
) -> None:  # fmt: skip
    _sign_in_with_password(page, stack, organization.owner, "/admin/sso")
    page.get_by_role("heading", name="Single sign-on").wait_for()
    page.get_by_label("OpenID Connect").check()
    page.get_by_label("Issuer").fill(provider.issuer)
    page.get_by_label("Client ID").fill(provider.client_id)
    page.get_by_label("Client secret").fill(provider.client_secret)
    page.get_by_label("Group to role mappings").fill("engineering: editor")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("status").filter(has_text="Saved").wait_for()
    redirect = page.get_by_label("Redirect URI").inner_text()
    assert redirect == f"{stack.url}/v1/sso/oidc/{organization.slug}/callback"
    assert page.get_by_label("Client secret").input_value() == ""
    shot("sso-settings")

    member = f"ada-{uuid.uuid4().hex[:6]}@{organization.domain}"
    provider.subject = Subject(sub=f"sub-{uuid.uuid4().hex}", email=member,
                               groups=["engineering"], name="Ada Lovelace")  # fmt: skip
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        fresh = context.new_page()
        fresh.goto(f"{stack.url}/graphs?mine=1")
        fresh.wait_for_url("**/login?next=*")
        fresh.get_by_label("Email").fill(member)
        fresh.get_by_role("button", name="Sign in with SSO").click()
        try:
            fresh.wait_for_url("**/graphs?mine=1")
        except PlaywrightError:
            pytest.fail(f"SSO stopped at {fresh.url}: {fresh.inner_text('body')[:500]}")
        fresh.get_by_role("heading", name="Graphs").wait_for()
        fresh.get_by_role("button", name=member).wait_for()
        assert "sso_code" not in fresh.url
        assert provider.token_requests[-1].get("code_verifier")
        shot("signed-in-with-sso")
    finally:
        context.close()


def test_sso_for_an_email_without_it_says_to_use_the_password(
    page: Any, stack: Stack, organization: Organization
) -> None:
    page.goto(f"{stack.url}/login")
    page.get_by_label("Email").fill(f"someone@{uuid.uuid4().hex[:8]}.example")
    page.get_by_role("button", name="Sign in with SSO").click()
    page.get_by_role("status").filter(has_text="sign in with your password").wait_for()
    assert "/login" in page.url


def test_a_forged_or_replayed_sign_in_code_is_refused(page: Any, stack: Stack) -> None:
    page.goto(f"{stack.url}/login?next=%2Fruns&sso_code=ash_not-a-real-code-1234")
    page.get_by_role("alert").filter(has_text="invalid").wait_for()
    assert "/login" in page.url
    page.goto(f"{stack.url}/runs")
    page.wait_for_url("**/login?next=%2Fruns")
