"""Access tokens: explicit algorithm, kid, issuer, audience, tenant and expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from pydantic import SecretStr

from auterity.security import tokens
from auterity.settings import load_settings

SETTINGS = load_settings(secret_key="first-key-0123456789abcdefghijklmnop")


def _token(**overrides: object) -> str:
    token, _ = tokens.issue_access_token(
        SETTINGS, user_id="u1", tenant_id="t1", session_id="s1", now=datetime.now(UTC)
    )
    if not overrides:
        return token
    claims = {**jwt.decode(token, options={"verify_signature": False}), **overrides}
    keys = tokens.signing_keys(SETTINGS)
    return jwt.encode(claims, keys.current, algorithm="HS256", headers={"kid": keys.current_id})


def test_a_fresh_token_decodes_to_its_claims() -> None:
    claims = tokens.decode_access_token(SETTINGS, _token())
    assert (claims.user_id, claims.tenant_id, claims.session_id) == ("u1", "t1", "s1")
    header = jwt.get_unverified_header(_token())
    assert header == {"alg": "HS256", "kid": tokens.signing_keys(SETTINGS).current_id, "typ": "JWT"}


@pytest.mark.parametrize(
    "overrides",
    [{"aud": "other"}, {"iss": "other"}, {"exp": 1}, {"tenant": ""}, {"sub": 7}, {"nbf": 2**40}],
)
def test_bad_claims_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(tokens.InvalidToken):
        tokens.decode_access_token(SETTINGS, _token(**overrides))


def test_the_issuer_follows_the_public_url() -> None:
    public = SETTINGS.model_copy(update={"public_url": "https://auterity.example.com/"})
    token, _ = tokens.issue_access_token(public, user_id="u", tenant_id="t", session_id="s")
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == (
        "https://auterity.example.com"
    )
    with pytest.raises(tokens.InvalidToken):
        tokens.decode_access_token(SETTINGS, token)


def test_previous_keys_verify_by_kid() -> None:
    old_token = _token()
    rotated = load_settings(
        secret_key="second-key-0123456789abcdefghijklmnop",
        secret_keys_previous=[SecretStr("first-key-0123456789abcdefghijklmnop")],
    )
    assert tokens.decode_access_token(rotated, old_token).user_id == "u1"
    new_token, _ = tokens.issue_access_token(rotated, user_id="u", tenant_id="t", session_id="s")
    with pytest.raises(tokens.InvalidToken, match="unknown key id"):
        tokens.decode_access_token(SETTINGS, new_token)


def test_api_keys_parse_strictly() -> None:
    key_id, key = tokens.new_api_key()
    assert tokens.parse_api_key(key) == key_id
    for bad in ("atk_", f"atk_{key_id}", f"atk_{key_id}_short", "atk_XYZ_" + "a" * 40, key + " "):
        assert tokens.parse_api_key(bad) is None
    assert tokens.digest(key) != tokens.digest(key + "x")


def test_expiry_is_checked_against_the_clock() -> None:
    token, expires = tokens.issue_access_token(
        SETTINGS,
        user_id="u",
        tenant_id="t",
        session_id="s",
        now=datetime.now(UTC) - tokens.ACCESS_TOKEN_TTL - timedelta(seconds=30),
    )
    assert expires < datetime.now(UTC)
    with pytest.raises(tokens.InvalidToken):
        tokens.decode_access_token(SETTINGS, token)
