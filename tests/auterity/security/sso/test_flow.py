"""Relay paths and the browser cookie, and the libraries the SAML checks rest on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib.metadata import version

import pytest

from auterity.security.sso import flow
from auterity.settings import load_settings

SETTINGS = load_settings(env="test")


@pytest.mark.parametrize("path", ["/", "/graphs", "/graphs/g1?tab=runs&x=%2F", "/a:b@c"])
def test_relative_paths_on_this_site_are_kept(path: str) -> None:
    assert flow.safe_return_to(path) == path


@pytest.mark.parametrize(
    "path",
    ["https://evil.example/", "//evil.example", "/\\evil.example", "javascript:alert(1)",
     "evil.example", "/ok\nSet-Cookie: x", "/a b", "/#frag", "/" + "a" * 600],
)  # fmt: skip
def test_anything_else_is_refused_as_off_site(path: str) -> None:
    with pytest.raises(flow.SsoRefused) as refused:
        flow.safe_return_to(path)
    assert refused.value.reason == "relay_state_offsite"


def test_the_browser_cookie_is_signed_and_expires() -> None:
    now = datetime.now(UTC)
    cookie, browser = flow.new_browser_cookie(SETTINGS, now)
    assert flow.browser_of(SETTINGS, cookie, now) == browser
    assert flow.browser_of(SETTINGS, cookie, now + flow.BROWSER_COOKIE_TTL + timedelta(1)) is None
    body, kid, mac = cookie.split(".")
    assert flow.browser_of(SETTINGS, f"{body}x.{kid}.{mac}", now) is None
    assert flow.browser_of(SETTINGS, f"{body}.{kid}.{'0' * len(mac)}", now) is None
    other = load_settings(env="test", secret_key="another-secret-key-0123456789abcdef")
    assert flow.browser_of(other, cookie, now) is None


def _at_least(installed: str, floor: tuple[int, ...]) -> bool:
    return tuple(int(part) for part in installed.split(".")[: len(floor)]) >= floor


def test_the_saml_stack_is_not_a_known_vulnerable_version() -> None:
    """python3-saml 1.16 rejects deprecated algorithms and checks the signed elements;
    xmlsec 1.3.14 is the first binding release on the libxmlsec1 1.3 API line."""
    assert _at_least(version("python3-saml"), (1, 16)), version("python3-saml")
    assert _at_least(version("xmlsec"), (1, 3, 14)), version("xmlsec")
    assert _at_least(version("lxml"), (5,)), version("lxml")
