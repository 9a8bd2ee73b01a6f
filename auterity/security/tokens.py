"""Access tokens (short JWTs) and opaque credentials (refresh tokens, API keys).

Access tokens are HS256 JWTs signed with a key derived from the secret key; the
header names the key (`kid`) so previous keys keep verifying during a rotation.
Decoding always passes `algorithms=`, the issuer, the audience and the required
claims: `alg: none`, another algorithm, another key, an expired token or a
changed byte all fail the same way, as `InvalidToken`.

Opaque credentials are random; only their sha256 is stored.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from auterity.security.crypto import KeyRing
from auterity.settings import Settings

ALGORITHM = "HS256"
AUDIENCE = "auterity-api"
DEFAULT_ISSUER = "auterity"
ACCESS_TOKEN_TTL = timedelta(minutes=15)
REFRESH_TOKEN_TTL = timedelta(days=30)
LEEWAY_SECONDS = 5
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "tenant", "sid", "jti"]

API_KEY_PREFIX = "atk_"
_API_KEY = re.compile(r"^atk_([0-9a-f]{32})_([A-Za-z0-9_-]{20,})$")
REFRESH_PREFIX = "art_"


class InvalidToken(Exception):
    """A token that must not be accepted; the message is for logs, not for callers."""


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    tenant_id: str
    session_id: str
    token_id: str
    expires_at: datetime


def issuer(settings: Settings) -> str:
    return settings.public_url.rstrip("/") or DEFAULT_ISSUER


def signing_keys(settings: Settings) -> KeyRing:
    return KeyRing.from_settings(settings, "jwt")


def issue_access_token(
    settings: Settings,
    *,
    user_id: str,
    tenant_id: str,
    session_id: str,
    now: datetime | None = None,
) -> tuple[str, datetime]:
    """A signed access token and its expiry."""
    now = now or datetime.now(UTC)
    expires = now + ACCESS_TOKEN_TTL
    keys = signing_keys(settings)
    claims = {
        "iss": issuer(settings),
        "aud": AUDIENCE,
        "sub": user_id,
        "tenant": tenant_id,
        "sid": session_id,
        "jti": secrets.token_hex(12),
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int(expires.timestamp()),
    }
    token = jwt.encode(claims, keys.current, algorithm=ALGORITHM, headers={"kid": keys.current_id})
    return token, expires


def decode_access_token(settings: Settings, token: str) -> AccessClaims:
    """The verified claims of `token`, or InvalidToken.

    A verified token is remembered (by its exact text, issuer and the keys that may have
    signed it) until it expires, so a client's every request does not pay for HMAC and
    JSON again; expiry is checked on every use."""
    ring = signing_keys(settings)
    remembered = (token, issuer(settings), tuple(ring.keys))
    claims = _VERIFIED.get(remembered)
    if claims is None:
        claims = _verify(settings, ring, token)
        if len(_VERIFIED) >= _VERIFIED_MAX:
            _VERIFIED.clear()
        _VERIFIED[remembered] = claims
    if claims.expires_at.timestamp() + LEEWAY_SECONDS <= time.time():
        _VERIFIED.pop(remembered, None)
        raise InvalidToken("Signature has expired")
    return claims


_VERIFIED: dict[tuple[str, str, tuple[str, ...]], AccessClaims] = {}
_VERIFIED_MAX = 10_000


def _verify(settings: Settings, ring: KeyRing, token: str) -> AccessClaims:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"malformed token: {exc}") from None
    if header.get("alg") != ALGORITHM:
        raise InvalidToken(f"algorithm {header.get('alg')!r} is not accepted")
    key = ring.get(str(header.get("kid", "")))
    if key is None:
        raise InvalidToken("unknown key id")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=issuer(settings),
            options={"require": REQUIRED_CLAIMS},
            leeway=LEEWAY_SECONDS,
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None
    for name in ("sub", "tenant", "sid", "jti"):
        if not isinstance(claims.get(name), str) or not claims[name]:
            raise InvalidToken(f"claim {name} is not a non-empty string")
    return AccessClaims(
        user_id=claims["sub"],
        tenant_id=claims["tenant"],
        session_id=claims["sid"],
        token_id=claims["jti"],
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
    )


def digest(credential: str) -> str:
    """The sha256 under which an opaque credential is stored and looked up."""
    return hashlib.sha256(credential.encode()).hexdigest()


def new_refresh_token() -> str:
    return REFRESH_PREFIX + secrets.token_urlsafe(32)


def new_api_key() -> tuple[str, str]:
    """(key id, full key `atk_<id>_<secret>`); the full key is shown once."""
    key_id = secrets.token_hex(16)
    return key_id, f"{API_KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"


def parse_api_key(credential: str) -> str | None:
    """The key id of a well-formed API key, else None."""
    match = _API_KEY.match(credential)
    return match.group(1) if match else None


def looks_like_api_key(credential: str) -> bool:
    return credential.startswith(API_KEY_PREFIX)
