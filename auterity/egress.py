"""Egress: where a URL a tenant controls may lead, and the one way to connect to it.

Every outbound call whose address a tenant's graph or settings decide (http nodes,
a model's `api_base`, later SSO metadata URLs) goes through an `EgressPolicy`.
By default it refuses loopback, private (RFC 1918, unique-local), link-local
(cloud metadata: 169.254.169.254, fd00:ec2::254), carrier-grade NAT, multicast,
unspecified, documentation, benchmarking and reserved addresses, and the IPv6
forms that embed one of those (IPv4-mapped and -compatible, 6to4, NAT64,
Teredo). An allow-list (`AUTERITY_EGRESS_ALLOW`: CIDRs and host names, `*.corp`
for a domain's hosts) opens intranet targets; a tenant's own list (within
AUTERITY_TENANT_EGRESS_CEILING, see `tenant_entry_problem`) is merged in with
`EgressPolicy.merged` by `activities.egress.TenantEgress`.

`EgressClient` is the only way to connect: it resolves the host once, checks
every address it resolved to and connects to a checked one, while TLS (SNI,
certificate) and the Host header keep the name, so DNS cannot answer one
address to the check and another to the connection. It never uses proxies from
the environment and never follows redirects (a redirect is the node's answer,
not a new request). `checked_addresses` is the same check for clients that
connect on their own (LiteLLM).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

ALLOW_SETTING = "AUTERITY_EGRESS_ALLOW"
TENANT_ALLOW_KEY = "egress_allow"
"""Where a tenant's own allow-list is kept in its settings (PATCH /v1/tenant)."""
TENANT_ALLOW_SETTING = "the tenant's egress_allow (PATCH /v1/tenant)"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""(host, port) -> the addresses the host resolves to."""


def _networks(*pairs: tuple[str, str]) -> tuple[tuple[IPNetwork, str], ...]:
    return tuple((ipaddress.ip_network(cidr), what) for cidr, what in pairs)


REFUSED_NETWORKS = _networks(
    ("0.0.0.0/8", "unspecified"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "carrier-grade NAT"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local (cloud metadata)"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "6to4 relay"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("64:ff9b:1::/48", "local-use NAT64"),
    ("100::/64", "discard-only"),
    ("2001:2::/48", "benchmarking"),
    ("2001:10::/28", "ORCHID"),
    ("2001:20::/28", "ORCHID"),
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),
    ("fc00::/7", "unique-local (private)"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local"),
    ("ff00::/8", "multicast"),
)
"""Refused unless allow-listed: every range that is not the public internet."""

_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_HOST_NAME = re.compile(
    r"^(\*\.)?(?=.{1,253}$)([a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?)(\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?)*$"
)


def host_pattern(entry: str) -> str:
    """A host name, `*.domain` or IP address, normalised (lower case, no trailing dot);
    `ValueError` for anything else."""
    text = entry.strip().lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(text.strip("[]")))
    except ValueError:
        pass
    if not _HOST_NAME.match(text):
        raise ValueError(f"{entry!r} is neither an address, a CIDR nor a host name")
    return text


def host_matches(pattern: str, host: str) -> bool:
    """Whether `host` is `pattern`, or a host under `*.domain` (not the domain itself)."""
    name = host.lower().rstrip(".").strip("[]")
    if pattern.startswith("*."):
        return name.endswith(pattern[1:])
    return name == pattern


class EgressRefused(Exception):
    """A tenant-controlled URL leads somewhere the egress policy does not allow."""

    def __init__(self, host: str, address: str, reason: str, setting: str) -> None:
        self.host = host
        self.address = address
        self.reason = reason
        self.setting = setting
        where = host if host == address else f"{host} ({address})"
        super().__init__(
            f"egress to {where} refused: {reason} address; "
            f"allow it with {setting} if it is an intended target"
        )


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[tuple[ipaddress.IPv4Address, str]]:
    """The IPv4 addresses an IPv6 address stands for, with the form that embeds them."""
    found: list[tuple[ipaddress.IPv4Address, str]] = []
    if address.ipv4_mapped is not None:
        found.append((address.ipv4_mapped, "IPv4-mapped"))
    if address.sixtofour is not None:
        found.append((address.sixtofour, "6to4"))
    if address.teredo is not None:
        server, client = address.teredo
        found += [(server, "Teredo"), (client, "Teredo")]
    low = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _NAT64:
        found.append((low, "NAT64"))
    elif address in _IPV4_COMPATIBLE and int(address) > 1:
        found.append((low, "IPv4-compatible"))
    return found


def refusal(address: IPAddress) -> str | None:
    """Why the default policy refuses an address (say "loopback"), or None."""
    for network, what in REFUSED_NETWORKS:
        if address.version == network.version and address in network:
            return what
    if isinstance(address, ipaddress.IPv6Address):
        for embedded, form in _embedded_ipv4(address):
            reason = refusal(embedded)
            if reason is not None:
                return f"{reason} ({form} {embedded})"
    return None


@dataclass(frozen=True)
class EgressPolicy:
    """The default refusals, opened by allow-listed `networks` and `hosts`."""

    networks: tuple[IPNetwork, ...] = ()
    hosts: tuple[str, ...] = ()
    """Lower-case host names; `*.example.com` allows every host under example.com."""
    setting: str = ALLOW_SETTING
    """Named in refusals: where the allow-list is configured."""

    @classmethod
    def parse(cls, entries: Iterable[str], setting: str = ALLOW_SETTING) -> EgressPolicy:
        """A policy from allow-list entries (CIDRs, addresses, host names); raises
        `ValueError` naming the first entry that is none of those."""
        networks: list[IPNetwork] = []
        hosts: list[str] = []
        for raw in entries:
            entry = raw.strip().lower()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            hosts.append(host_pattern(raw))
        return cls(tuple(networks), tuple(hosts), setting)

    def merged(self, other: EgressPolicy) -> EgressPolicy:
        """This policy with `other`'s allowances too (a tenant's list on the platform's)."""
        return EgressPolicy(self.networks + other.networks, self.hosts + other.hosts, self.setting)

    def allows_host(self, host: str) -> bool:
        return any(host_matches(allowed, host) for allowed in self.hosts)

    def check(self, host: str, address: str) -> None:
        """Raises `EgressRefused` unless `host`, resolved to `address`, may be reached."""
        if self.allows_host(host):
            return
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        candidates: list[IPAddress] = [ip]
        if isinstance(ip, ipaddress.IPv6Address):
            candidates += [embedded for embedded, _ in _embedded_ipv4(ip)]
        if any(
            candidate.version == network.version and candidate in network
            for candidate in candidates
            for network in self.networks
        ):
            return
        reason = refusal(ip)
        if reason is not None:
            raise EgressRefused(host, address, f"{reason}", self.setting)


NEVER_FOR_TENANTS = _networks(
    ("0.0.0.0/8", "unspecified"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local (cloud metadata)"),
    ("100.100.100.200/32", "cloud metadata"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
    ("::1/128", "loopback"),
    ("::/96", "unspecified or IPv4-compatible"),
    ("::ffff:0:0/96", "IPv4-mapped"),
    ("64:ff9b::/96", "NAT64"),
    ("2002::/16", "6to4"),
    ("2001::/32", "Teredo"),
    ("fd00:ec2::254/128", "cloud metadata"),
    ("fe80::/10", "link-local"),
    ("ff00::/8", "multicast"),
)
"""What no tenant's allow-list may open, whatever the platform allows tenants."""
_NEVER_HOSTS = ("localhost", "metadata", "metadata.google.internal", "instance-data")


def tenant_entry_problem(entry: str, ceiling: EgressPolicy) -> str | None:
    """Why a tenant may not put `entry` in its own egress allow-list, or None.

    A tenant may open only what the platform lets tenants open (`ceiling`): a network
    inside one of its networks, a host name it lists or that falls under one of its
    `*.domain`s. Loopback, link-local and metadata addresses, multicast, the IPv6 forms
    that embed IPv4 addresses, `localhost` and wildcards of everything are never allowed.
    """
    text = entry.strip().lower()
    if not text:
        return "is empty"
    if text.strip("*. ") == "":
        return "is a wildcard of every host; name hosts or a *.domain"
    if "*" in text and not (text.startswith("*.") and "*" not in text[2:]):
        return "may use * only as a leading '*.' (every host under a domain)"
    try:
        network = ipaddress.ip_network(text.strip("[]"), strict=False)
    except ValueError:
        network = None
    if network is not None:
        for never, what in NEVER_FOR_TENANTS:
            if network.version == never.version and network.overlaps(never):  # type: ignore[arg-type]
                return f"includes {what} addresses"
        if network.prefixlen == 0:
            return "is every address"
        if not any(
            network.version == allowed.version and network.subnet_of(allowed)  # type: ignore[arg-type]
            for allowed in ceiling.networks
        ):
            return f"is not within what the platform lets tenants open ({ceiling.setting})"
        return None
    try:
        host = host_pattern(text)
    except ValueError:
        return "is neither an address, a CIDR nor a host name"
    bare = host.removeprefix("*.")
    if "." not in bare:
        return "is a single-label name (localhost, a bare top-level domain); name hosts"
    if bare in _NEVER_HOSTS or bare.endswith(".localhost") or bare.endswith(".internal"):
        return "names a local or metadata host"
    if not any(_host_within(host, allowed) for allowed in ceiling.hosts):
        return f"is not within what the platform lets tenants open ({ceiling.setting})"
    return None


def _host_within(host: str, allowed: str) -> bool:
    """Whether every host `host` (a name or `*.domain`) stands for is one `allowed` covers."""
    if host == allowed:
        return True
    if not allowed.startswith("*."):
        return False
    return host.removeprefix("*.").endswith(allowed[1:])


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, through the system's resolver, off the event loop."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def checked_addresses(
    policy: EgressPolicy,
    host: str,
    port: int,
    resolver: Resolver = system_resolver,
    timeout: float | None = None,
) -> list[str]:
    """Resolves `host` once and checks every address: all of them, or `EgressRefused`.
    A name that does not resolve raises `httpcore.ConnectError` (a network failure)."""
    try:
        addresses = await asyncio.wait_for(resolver(host, port), timeout)
    except (OSError, TimeoutError) as error:
        raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from None
    if not addresses:
        raise httpcore.ConnectError(f"{host} resolves to no address")
    for address in addresses:
        policy.check(host, address)
    return list(addresses)


async def check_url(
    policy: EgressPolicy, url: str, resolver: Resolver = system_resolver
) -> list[str]:
    """`checked_addresses` for a URL's host (for clients that connect on their own)."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"{url!r} has no host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return await checked_addresses(policy, parts.hostname, port, resolver)


class _CheckedBackend(httpcore.AsyncNetworkBackend):
    """Connects to a checked address of the host httpcore asks for."""

    def __init__(self, policy: EgressPolicy, resolver: Resolver) -> None:
        self._policy = policy
        self._resolver = resolver
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await checked_addresses(self._policy, host, port, self._resolver, timeout)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise EgressRefused(path, path, "a unix socket is not a network", self._policy.setting)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class EgressTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over `_CheckedBackend`."""

    def __init__(
        self,
        policy: EgressPolicy,
        *,
        verify: Any = True,
        resolver: Resolver = system_resolver,
        limits: httpx.Limits = httpx.Limits(max_connections=100, max_keepalive_connections=20),
    ) -> None:
        super().__init__(verify=verify, trust_env=False, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_CheckedBackend(policy, resolver),
        )


class EgressClient(httpx.AsyncClient):
    """The HTTP client for tenant-controlled URLs: see the module docstring."""

    def __init__(
        self,
        policy: EgressPolicy,
        *,
        verify: Any = True,
        resolver: Resolver = system_resolver,
        timeout: float = 30.0,
    ) -> None:
        super().__init__(
            transport=EgressTransport(policy, verify=verify, resolver=resolver),
            follow_redirects=False,
            trust_env=False,
            timeout=timeout,
        )
        self.policy = policy
