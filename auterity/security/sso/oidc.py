"""The OpenID Connect relying party of a tenant: authorization code flow with PKCE (S256).

- discovery from `<issuer>/.well-known/openid-configuration`, whose `issuer` must be the
  configured one exactly (mix-up defence), cached per process for `DISCOVERY_TTL`;
- `state` (its sha256 is the request's id) and `nonce` are random per sign-in, bound to
  the browser by the signed SSO cookie and spent once (`flow`);
- the ID token: signed with an asymmetric algorithm the provider advertises (never
  `none`, never HMAC), by a key of the provider's JWKS (an unknown `kid` triggers one
  refetch, which is how a key rotation is picked up, and is refused after it); `iss`
  exact, `aud` containing the client id, `azp` the client id whenever present or when
  there are several audiences, `exp`/`iat`/`nbf` with `LEEWAY`, and `nonce`;
- people are keyed on (`iss`, `sub`).

PKCE and URLs come from authlib; the JOSE checks from joserfc (authlib's JOSE library).
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from auterity.security.sso import egress
from auterity.security.sso.config import OidcConnection
from auterity.security.sso.flow import SsoRefused
from auterity.security.sso.provisioning import Assertion
from auterity.settings import Settings

DISCOVERY_TTL = 3600.0
JWKS_TTL = 3600.0
LEEWAY = 60
ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")


@dataclass
class _Cached:
    value: Any
    fetched: float


@dataclass
class ProviderCache:
    """Discovery documents and key sets by URL, for one process."""

    documents: dict[str, _Cached] = field(default_factory=dict)
    key_sets: dict[str, _Cached] = field(default_factory=dict)

    def clear(self) -> None:
        self.documents.clear()
        self.key_sets.clear()


CACHE = ProviderCache()


@dataclass(frozen=True)
class LoginStart:
    url: str
    state: str
    nonce: str
    verifier: str


async def discover(conn: OidcConnection, settings: Settings) -> dict[str, Any]:
    """The provider's discovery document (cached), checked to name this issuer."""
    url = f"{conn.issuer}/.well-known/openid-configuration"
    cached = CACHE.documents.get(url)
    if cached is not None and time.monotonic() - cached.fetched < DISCOVERY_TTL:
        return dict(cached.value)
    try:
        fetched = await egress.get(url, settings)
        document = fetched.json() if fetched.status == 200 else None
    except egress.EgressRefused as exc:
        raise SsoRefused("discovery_failed", str(exc), status=502) from None
    if not isinstance(document, dict):
        raise SsoRefused("discovery_failed", f"{url} did not answer with a document", status=502)
    if document.get("issuer") != conn.issuer:
        raise SsoRefused(
            "wrong_issuer",
            f"discovery names issuer {str(document.get('issuer'))[:200]!r}, not {conn.issuer!r}",
            status=502,
        )
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(document.get(name), str):
            raise SsoRefused("discovery_failed", f"discovery has no {name}", status=502)
    CACHE.documents[url] = _Cached(document, time.monotonic())
    return document


def start(conn: OidcConnection, document: dict[str, Any], redirect_uri: str) -> LoginStart:
    """The authorization URL for a new sign-in, with fresh state, nonce and PKCE verifier."""
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    url = add_params_to_uri(
        document["authorization_endpoint"],
        [
            ("response_type", "code"),
            ("client_id", conn.client_id),
            ("redirect_uri", redirect_uri),
            ("scope", " ".join(conn.scopes)),
            ("state", state),
            ("nonce", nonce),
            ("code_challenge", create_s256_code_challenge(verifier)),
            ("code_challenge_method", "S256"),
        ],
    )
    return LoginStart(url=url, state=state, nonce=nonce, verifier=verifier)


async def exchange_code(
    conn: OidcConnection,
    client_secret: str | None,
    document: dict[str, Any],
    *,
    code: str,
    verifier: str,
    redirect_uri: str,
    settings: Settings,
) -> str:
    """Trade the authorization code (and the PKCE verifier) for an ID token."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
        "client_id": conn.client_id,
    }
    auth: tuple[str, str] | None = None
    if client_secret and conn.token_auth == "client_secret_basic":
        auth = (conn.client_id, client_secret)
    elif client_secret:
        form["client_secret"] = client_secret
    try:
        answer = await egress.request(
            "POST",
            document["token_endpoint"],
            settings,
            data=form,
            auth=auth,
            headers={"accept": "application/json"},
        )
    except egress.EgressRefused as exc:
        raise SsoRefused("token_exchange_failed", str(exc), status=502) from None
    try:
        body = json.loads(answer.body)
    except ValueError:
        body = None
    if answer.status != 200 or not isinstance(body, dict):
        error = body.get("error") if isinstance(body, dict) else None
        raise SsoRefused(
            "token_exchange_failed",
            f"the token endpoint answered {answer.status} {str(error or '')[:100]}".strip(),
        )
    id_token = body.get("id_token")
    if not isinstance(id_token, str):
        raise SsoRefused("token_exchange_failed", "the token response has no id_token")
    return id_token


async def _key_set(uri: str, settings: Settings, *, refresh: bool) -> KeySet:
    cached = CACHE.key_sets.get(uri)
    if cached is not None and not refresh and time.monotonic() - cached.fetched < JWKS_TTL:
        return cached.value  # type: ignore[no-any-return]
    try:
        fetched = await egress.get(uri, settings)
        keys = KeySet.import_key_set(fetched.json())
    except (egress.EgressRefused, JoseError, ValueError, TypeError, KeyError) as exc:
        raise SsoRefused("jwks_failed", f"{uri}: {exc}"[:300], status=502) from None
    CACHE.key_sets[uri] = _Cached(keys, time.monotonic())
    return keys


async def verify_id_token(
    id_token: str,
    conn: OidcConnection,
    document: dict[str, Any],
    *,
    nonce: str,
    settings: Settings,
    now: datetime,
) -> Assertion:
    """The person an ID token names, once every check passes; SsoRefused with a reason."""
    try:
        header = jws.extract_compact(id_token.encode()).headers()
    except (JoseError, ValueError, TypeError) as exc:
        raise SsoRefused("malformed_id_token", str(exc)[:200]) from None
    alg = header.get("alg")
    advertised = document.get("id_token_signing_alg_values_supported") or ["RS256"]
    if alg not in ASYMMETRIC or alg not in advertised:
        raise SsoRefused("alg_not_allowed", f"ID token algorithm {str(alg)[:20]!r} is refused")
    kid = header.get("kid")
    uri = document["jwks_uri"]
    keys = await _key_set(uri, settings, refresh=False)
    if not _has_key(keys, kid):
        keys = await _key_set(uri, settings, refresh=True)  # a rotation: fetch once more
        if not _has_key(keys, kid):
            raise SsoRefused("unknown_key", f"no key {str(kid)[:80]!r} in the provider's JWKS")
    try:
        token = jwt.decode(id_token, keys, algorithms=[str(alg)])
    except JoseError as exc:
        raise SsoRefused("invalid_signature", str(exc)[:200]) from None
    claims = token.claims
    return _checked(claims, conn, nonce=nonce, now=now)


def _has_key(keys: KeySet, kid: Any) -> bool:
    if kid is None:
        return len(keys.keys) == 1
    return any(key.kid == kid for key in keys.keys)


def _checked(
    claims: dict[str, Any], conn: OidcConnection, *, nonce: str, now: datetime
) -> Assertion:
    if claims.get("iss") != conn.issuer:
        raise SsoRefused("wrong_issuer", f"iss {str(claims.get('iss'))[:200]!r}")
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list) or conn.client_id not in audiences:
        raise SsoRefused("wrong_audience", f"aud {str(audience)[:200]!r}")
    azp = claims.get("azp")
    if (azp is not None or len(audiences) > 1) and azp != conn.client_id:
        raise SsoRefused("wrong_azp", f"azp {str(azp)[:200]!r}")
    moment = now.timestamp()
    for name in ("exp", "iat"):
        if not isinstance(claims.get(name), int | float):
            raise SsoRefused("malformed_id_token", f"claim {name} is missing")
    if claims["exp"] + LEEWAY <= moment:
        raise SsoRefused("expired", "the ID token has expired")
    if claims["iat"] - LEEWAY > moment or (
        isinstance(claims.get("nbf"), int | float) and claims["nbf"] - LEEWAY > moment
    ):
        raise SsoRefused("not_yet_valid", "the ID token is not valid yet")
    if not isinstance(claims.get("nonce"), str) or not secrets.compare_digest(
        claims["nonce"], nonce
    ):
        raise SsoRefused("nonce_mismatch", "the ID token's nonce is not this sign-in's")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise SsoRefused("malformed_id_token", "claim sub is missing")
    email = claims.get(conn.email_claim)
    found = claims.get(conn.groups_claim) if conn.groups_claim else None
    groups: list[Any] = (
        [found] if isinstance(found, str) else found if isinstance(found, list) else []
    )
    display = claims.get(conn.name_claim)
    return Assertion(
        protocol="oidc",
        issuer=conn.issuer,
        subject=subject,
        email=email if isinstance(email, str) else None,
        name=display if isinstance(display, str) else "",
        groups=tuple(str(group) for group in groups if isinstance(group, str | int)),
    )
