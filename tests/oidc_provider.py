"""A real OpenID provider for the tests, on loopback: discovery, authorize, token, JWKS.

Authorization code flow with PKCE as a strict provider does it (authlib's S256
helper checks the verifier; a verifier for a request that sent no challenge is
refused, as RFC 9700 asks), RS256 ID tokens signed with joserfc (authlib's JOSE
library). Tests steer it like an attacker or a broken provider would: `claims`
overrides what the next ID token says, `header` its JOSE header (`alg: none`),
`sign_with` another key; `rotate()` replaces the signing key and the JWKS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi import FastAPI, Form, Header, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from tests.support import free_port, serve


@dataclass
class Subject:
    sub: str
    email: str
    groups: list[str] = field(default_factory=list)
    name: str = ""


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    nonce: str | None
    challenge: str | None
    method: str | None
    subject: Subject


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _compact(header: dict[str, Any], claims: dict[str, Any],
             sign: Callable[[bytes], bytes]) -> str:  # fmt: skip
    """A JWS built by hand, for the tokens a proper library refuses to make."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{_b64(sign(signing_input.encode()))}"


def new_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(8), "use": "sig"})


class OidcProvider:
    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self.client_id = "auterity-" + secrets.token_hex(4)
        self.client_secret = secrets.token_urlsafe(24)
        self.key = new_key()
        self.published: list[RSAKey] = [self.key]
        self.subject: Subject | None = None
        self.claims: dict[str, Any] = {}  # overrides for the next ID tokens
        self.header: dict[str, Any] = {}
        self.sign_with: RSAKey | None = None
        self.unsigned = False
        self.grants: dict[str, Grant] = {}
        self.jwks_fetches = 0
        self.token_requests: list[dict[str, str]] = []

    def rotate(self, *, keep_old: bool = False) -> None:
        """A new signing key; the JWKS publishes it (and the old one only if `keep_old`)."""
        self.key = new_key()
        self.published = [*self.published, self.key] if keep_old else [self.key]

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }

    def authorize(self, query: dict[str, str]) -> str:
        """The redirect back to the client with a code for the subject in front of us."""
        assert self.subject is not None, "put a subject in front of the provider first"
        if query.get("client_id") != self.client_id or query.get("response_type") != "code":
            raise ValueError("unknown client or response type")
        code = secrets.token_urlsafe(24)
        self.grants[code] = Grant(
            client_id=query["client_id"],
            redirect_uri=query["redirect_uri"],
            nonce=query.get("nonce"),
            challenge=query.get("code_challenge"),
            method=query.get("code_challenge_method"),
            subject=self.subject,
        )
        back = {"code": code}
        if "state" in query:
            back["state"] = query["state"]
        return f"{query['redirect_uri']}?{urlencode(back)}"

    def id_token(self, grant: Grant) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": grant.subject.sub,
            "aud": grant.client_id,
            "iat": now,
            "exp": now + 300,
            "email": grant.subject.email,
            "email_verified": True,
            "name": grant.subject.name,
            "groups": grant.subject.groups,
        }
        if grant.nonce is not None:
            claims["nonce"] = grant.nonce
        claims.update(self.claims)
        claims = {key: value for key, value in claims.items() if value is not None}
        key = self.sign_with or self.key
        if self.unsigned:
            return _compact({"alg": "none", "typ": "JWT"}, claims, lambda _: b"")
        header = {"alg": "RS256", "kid": key.kid, **self.header}
        if header["alg"] == "HS256":  # algorithm confusion: HMAC keyed with the public key
            public = key.as_pem(private=False)
            return _compact(header, claims, lambda signing_input: hmac.new(
                public, signing_input, hashlib.sha256).digest())  # fmt: skip
        return jwt.encode(header, claims, key)

    def token(
        self, form: dict[str, str], basic: tuple[str, str] | None
    ) -> tuple[int, dict[str, Any]]:
        self.token_requests.append(dict(form))
        client_id, secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
        if client_id != self.client_id or secret != self.client_secret:
            return 401, {"error": "invalid_client"}
        grant = self.grants.pop(form.get("code", ""), None)
        if grant is None or grant.redirect_uri != form.get("redirect_uri"):
            return 400, {"error": "invalid_grant"}
        verifier = form.get("code_verifier")
        if grant.challenge is None:
            if verifier is not None:  # a verifier for a code issued without a challenge
                return 400, {"error": "invalid_grant", "error_description": "no PKCE challenge"}
        elif (
            verifier is None
            or grant.method != "S256"
            or (create_s256_code_challenge(verifier) != grant.challenge)
        ):
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        return 200, {
            "access_token": secrets.token_urlsafe(16),
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": self.id_token(grant),
        }


def provider_app(provider: OidcProvider) -> FastAPI:
    app = FastAPI()

    @app.get("/.well-known/openid-configuration")
    async def discovery() -> dict[str, Any]:
        return provider.discovery()

    @app.get("/jwks")
    async def jwks() -> dict[str, Any]:
        provider.jwks_fetches += 1
        return KeySet(list(provider.published)).as_dict(private=False)

    @app.get("/authorize")
    async def authorize(request: Request) -> Response:
        try:
            return RedirectResponse(provider.authorize(dict(request.query_params)), 302)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, 400)

    @app.post("/token")
    async def token(request: Request, authorization: str = Header(default="")) -> Response:
        form = {key: str(value) for key, value in (await request.form()).items()}
        basic = None
        if authorization.lower().startswith("basic "):
            import base64
            from urllib.parse import unquote

            user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
            basic = (unquote(user), unquote(password))
        status, body = provider.token(form, basic)
        return JSONResponse(body, status, headers={"cache-control": "no-store"})

    _ = Form  # the form is read by hand, to see exactly what the client sent
    return app


@contextmanager
def serve_provider() -> Iterator[OidcProvider]:
    port = free_port()
    provider = OidcProvider(f"http://127.0.0.1:{port}")
    with serve(provider_app(provider), port=port):
        yield provider


def code_without_pkce(provider: OidcProvider, redirect_uri: str, subject: Subject) -> str:
    """A code an attacker obtained with their own authorization request, without PKCE."""
    saved = provider.subject
    provider.subject = subject
    try:
        back = provider.authorize(
            {"client_id": provider.client_id, "response_type": "code", "redirect_uri": redirect_uri}
        )
    finally:
        provider.subject = saved
    return back.split("code=", 1)[1].split("&", 1)[0]
