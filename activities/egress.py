"""Each tenant's egress: the platform's policy plus the tenant's own allow-list.

A tenant's `egress_allow` (tenant settings, PATCH /v1/tenant, checked there against
AUTERITY_TENANT_EGRESS_CEILING) is merged into the platform's policy with
`EgressPolicy.merged`. It is read at most every `seconds` per tenant; each distinct
policy gets one `EgressClient`, shared by the tenants that have it.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from auterity import telemetry
from auterity.egress import (
    TENANT_ALLOW_KEY,
    EgressClient,
    EgressPolicy,
    Resolver,
    system_resolver,
)
from auterity.models.tenancy import Tenant


class TenantEgress:
    """The egress policy and client of each tenant (by slug)."""

    def __init__(
        self,
        platform: EgressPolicy,
        sessions: sessionmaker[Session] | None,
        *,
        seconds: float = 5.0,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.platform = platform
        self.sessions = sessions
        self.seconds = seconds
        self.resolver = resolver
        self._read: dict[str, tuple[float, EgressPolicy]] = {}
        self._clients: dict[EgressPolicy, EgressClient] = {}

    async def policy(self, tenant: str) -> EgressPolicy:
        """The platform's policy with `tenant`'s own allow-list merged in."""
        if self.sessions is None:
            return self.platform
        seen = self._read.get(tenant)
        now = time.monotonic()
        if seen is not None and now - seen[0] < self.seconds:
            return seen[1]
        entries = await asyncio.to_thread(self._entries, tenant)
        policy = self.platform.merged(EgressPolicy.parse(entries)) if entries else self.platform
        self._read[tenant] = (now, policy)
        return policy

    async def client(self, tenant: str) -> EgressClient:
        """The client that connects where `tenant` may connect."""
        policy = await self.policy(tenant)
        client = self._clients.get(policy)
        if client is None:
            client = self._clients[policy] = EgressClient(policy, resolver=self.resolver)
            telemetry.instrument_http_client(client)
        return client

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    def _entries(self, tenant: str) -> list[str]:
        assert self.sessions is not None
        with self.sessions() as session:
            settings = session.scalar(select(Tenant.settings).where(Tenant.slug == tenant))
        entries = (settings or {}).get(TENANT_ALLOW_KEY, [])
        return [str(entry) for entry in entries] if isinstance(entries, list) else []
