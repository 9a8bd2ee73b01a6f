"""The one place SSO reaches the network: IdP metadata, OIDC discovery, JWKS, the token endpoint.

THIS IS WHERE THE PLATFORM'S EGRESS POLICY PLUGS IN. Until it exists, `check_url`
refuses what it would: anything but https, and hosts that resolve to loopback,
private, link-local (cloud metadata), multicast or reserved addresses, unless the
host is listed in `AUTERITY_SSO_INTERNAL_HOSTS` (an on-premises IdP; outside
production such a host may also use http). Redirects are not followed, so a
public URL cannot bounce the request inward. What it cannot do yet, and the
egress policy will: connect to the very address that was checked (a DNS answer
can change between the check and the connection).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from auterity.settings import Settings

TIMEOUT = httpx.Timeout(10.0)
MAX_BYTES = 1024 * 1024


class EgressRefused(ValueError):
    """An IdP URL SSO must not call; the message says why."""


def _internal_hosts(settings: Settings) -> set[str]:
    return {host.strip().lower() for host in settings.sso_internal_hosts if host.strip()}


async def check_url(url: str, settings: Settings) -> None:
    """Refuse `url` unless it is https (or an allowed internal host) on a public address."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host or parts.scheme not in {"https", "http"}:
        raise EgressRefused(f"{url!r} is not an http(s) URL with a host")
    if parts.username or parts.password:
        raise EgressRefused(f"{url!r} must not carry credentials")
    allowed = host in _internal_hosts(settings)
    if parts.scheme != "https" and not (allowed and settings.env != "production"):
        raise EgressRefused(f"{url!r} must use https")
    if allowed:
        return
    for address in await _addresses(host, parts.port or (443 if parts.scheme == "https" else 80)):
        if not address.is_global or address.is_multicast:
            raise EgressRefused(
                f"{host} resolves to an internal address ({address}); refused "
                "(list the host in AUTERITY_SSO_INTERNAL_HOSTS to allow an on-premises IdP)"
            )


async def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
        return [literal]
    except ValueError:
        pass
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise EgressRefused(f"{host} does not resolve: {exc.strerror or exc}") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]


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
    async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False) as client:
        try:
            async with client.stream(method, url, **kwargs) as response:
                body = b""
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_BYTES:
                        raise EgressRefused(f"{url} answered with more than {MAX_BYTES} bytes")
        except httpx.HTTPError as exc:
            raise EgressRefused(f"{url} could not be reached: {type(exc).__name__}") from None
    return Fetched(response.status_code, response.headers.get("content-type", ""), body)
