"""The one place SSO reaches the network: IdP metadata, OIDC discovery, JWKS, the token endpoint.

Every call goes through the platform's egress policy (`auterity.egress`): the host is
resolved once, every address is checked, and the connection goes to a checked one,
so no DNS answer can move it inward; redirects are not followed. On top of that,
SSO asks for https, refuses credentials in the URL and reads at most `MAX_BYTES`.
An on-premises IdP is allowed by naming its host in `AUTERITY_SSO_INTERNAL_HOSTS`
(or in the platform-wide `AUTERITY_EGRESS_ALLOW`); outside production such a host
may also use http.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from auterity import egress
from auterity.settings import Settings

TIMEOUT = 10.0
MAX_BYTES = 1024 * 1024
SETTING = "AUTERITY_SSO_INTERNAL_HOSTS"


class EgressRefused(ValueError):
    """An IdP URL SSO must not call; the message says why."""


def policy(settings: Settings) -> egress.EgressPolicy:
    """The platform's egress policy, opened also for the on-premises IdP hosts SSO names."""
    internal = egress.EgressPolicy.parse(settings.sso_internal_hosts, setting=SETTING)
    return settings.egress_policy.merged(internal)


def _internal(host: str, settings: Settings) -> bool:
    return policy(settings).allows_host(host) or any(
        entry.strip().lower() == host for entry in settings.sso_internal_hosts
    )


async def check_url(url: str, settings: Settings) -> None:
    """Refuse `url` unless it is https (or an allowed internal host) on an allowed address."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host or parts.scheme not in {"https", "http"}:
        raise EgressRefused(f"{url!r} is not an http(s) URL with a host")
    if parts.username or parts.password:
        raise EgressRefused(f"{url!r} must not carry credentials")
    if parts.scheme != "https" and not (_internal(host, settings) and settings.env != "production"):
        raise EgressRefused(f"{url!r} must use https")
    allowed = policy(settings)
    if allowed.allows_host(host):
        return  # listed by name: the connection resolves it (and checks it again)
    try:
        await egress.check_url(allowed, url)
    except egress.EgressRefused as exc:
        raise EgressRefused(
            f"{exc} (list the host in {SETTING} to allow an on-premises IdP)"
        ) from None
    except httpcore.ConnectError as exc:
        raise EgressRefused(f"{host} does not resolve: {exc}") from None


@dataclass(frozen=True)
class Fetched:
    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise EgressRefused("the IdP answered with something that is not JSON") from None


async def get(url: str, settings: Settings, *, accept: str = "application/json") -> Fetched:
    """GET an IdP document after `check_url`; at most MAX_BYTES, no redirects."""
    return await request("GET", url, settings, headers={"accept": accept})


async def request(method: str, url: str, settings: Settings, **kwargs: Any) -> Fetched:
    """One request to an IdP after `check_url`; at most MAX_BYTES read, no redirects."""
    await check_url(url, settings)
    async with egress.EgressClient(policy(settings), timeout=TIMEOUT) as client:
        try:
            async with client.stream(method, url, **kwargs) as response:
                body = b""
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_BYTES:
                        raise EgressRefused(f"{url} answered with more than {MAX_BYTES} bytes")
        except egress.EgressRefused as exc:
            raise EgressRefused(str(exc)) from None
        except httpx.HTTPError as exc:
            raise EgressRefused(f"{url} could not be reached: {type(exc).__name__}") from None
    return Fetched(response.status_code, response.headers.get("content-type", ""), body)
