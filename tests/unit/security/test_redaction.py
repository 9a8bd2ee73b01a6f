"""Audit redaction: credentials by key name, stored secret values wherever they appear."""

from __future__ import annotations

from auterity.audit import REDACTED, redact


def test_sensitive_keys_are_masked_at_any_depth() -> None:
    details = {
        "password": "p",
        "headers": {"Authorization": "Bearer x", "X-Api-Key": "k", "Accept": "json"},
        "client_secret": "s",
        "refresh_token": "r",
        "nested": [{"private_key": "pem", "note": "fine"}],
        "prompt_tokens": 12,
        "secret_name": "hook_url",
        "secret_names": ["a", "b"],
        "empty_password": "",
    }
    assert redact(details) == {
        "password": REDACTED,
        "headers": {"Authorization": REDACTED, "X-Api-Key": REDACTED, "Accept": "json"},
        "client_secret": REDACTED,
        "refresh_token": REDACTED,
        "nested": [{"private_key": REDACTED, "note": "fine"}],
        "prompt_tokens": 12,
        "secret_name": "hook_url",
        "secret_names": ["a", "b"],
        "empty_password": "",
    }


def test_secret_values_are_masked_inside_any_string() -> None:
    details = {"url": "https://x/?key=abcd1234&y=1", "list": ["abcd1234"], "n": 3, "ab": "ab"}
    assert redact(details, ["abcd1234", "ab"]) == {
        "url": f"https://x/?key={REDACTED}&y=1",
        "list": [REDACTED],
        "n": 3,
        "ab": REDACTED,  # short values only where a whole string equals them
    }
