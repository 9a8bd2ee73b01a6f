"""Redaction: one mask and one rule for the audit trail, the logs and node outputs."""

from __future__ import annotations

import uuid

from auterity import audit
from auterity.redaction import MASK, SecretValues, redact, redact_query

REDACTED = audit.REDACTED


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
    details = {"url": "https://x/?key=abcd1234&y=1", "list": ["abcd1234"], "n": 3, "short": "ab"}
    assert redact(details, ["abcd1234", "ab"]) == {
        "url": f"https://x/?key={REDACTED}&y=1",
        "list": [REDACTED],
        "n": 3,
        "short": REDACTED,  # short values only where a whole string equals them
    }


def test_one_mask_everywhere() -> None:
    assert audit.REDACTED == MASK
    assert (
        redact_query("/v1/tasks/resume?token=abc.def&x=1") == f"/v1/tasks/resume?token={MASK}&x=1"
    )


def test_node_outputs_keep_their_keys_but_lose_secret_values() -> None:
    output = {"token": "from the service", "echo": "Bearer s3cr3t-value", "s3cr3t-value": 1}
    assert redact(output, ["s3cr3t-value"], keys=False) == {
        "token": "from the service",
        "echo": f"Bearer {MASK}",
        MASK: 1,
    }


def test_a_value_containing_another_is_masked_whole() -> None:
    values = SecretValues(["abcd", "abcdefgh"])
    assert values.text("x abcdefgh y") == f"x {MASK} y"


def test_keys_from_a_tenants_data_cannot_grow_what_is_remembered() -> None:
    """Which keys name a credential is remembered for short keys only: a hostile payload of
    many long keys (a webhook body, an HTTP response recorded in an entry) is judged key by
    key, masked the same, and leaves nothing behind."""
    from auterity.redaction import _known_name

    long = "x" * 200
    payload = {f"{long}{i}_password": "p" for i in range(500)}
    payload |= {f"{long}{i}_note": "fine" for i in range(500)}
    before = _known_name.cache_info().currsize
    masked = redact(payload)
    assert _known_name.cache_info().currsize == before
    assert sum(value == REDACTED for value in masked.values()) == 500
    assert sum(value == "fine" for value in masked.values()) == 500
    fresh = uuid.uuid4().hex  # keys no other test has asked about
    short = {f"{fresh}_api_key": "k", f"{fresh}_api_key_id": "i"}
    assert redact(short) == {f"{fresh}_api_key": REDACTED, f"{fresh}_api_key_id": "i"}
    assert _known_name.cache_info().currsize == before + 2
