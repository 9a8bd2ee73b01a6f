"""`audit.purge_expired`: per-tenant audit retention, run by `AuditRetentionWorkflow`."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from auterity import audit
from auterity.db import transaction
from auterity.graph.contracts import AUDIT_PURGE, AuditRetentionInput, AuditRetentionOutput
from auterity.models.tenancy import Tenant
from auterity.secrets import bind_keyring, keyring
from auterity.security.principal import Actor
from auterity.settings import Settings

log = logging.getLogger("auterity.audit")
AUDIT_VERIFICATION_FAILURES = "auterity_audit_verification_failures_total"
ACTOR = Actor.system("audit retention")


class AuditActivities:
    """Retention through tenant-scoped `sessions`, one transaction per tenant."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings) -> None:
        self.sessions = sessions
        self.keyring = keyring(settings)
        audit.use_settings(settings)

    @activity.defn(name=AUDIT_PURGE)
    async def purge_expired(self, request: AuditRetentionInput) -> AuditRetentionOutput:
        now = datetime.now(UTC)
        result = AuditRetentionOutput()
        for tenant_id, slug in await asyncio.to_thread(self._tenants, request.tenant):
            activity.heartbeat(slug)
            deleted = await asyncio.to_thread(self._purge_tenant, tenant_id, now)
            if deleted is None:
                result.refused.append(slug)
            else:
                result.deleted += deleted
            result.tenants += 1
        return result

    def _tenants(self, slug: str | None) -> list[tuple[str, str]]:
        with transaction(self.sessions) as session:
            query = select(Tenant.id, Tenant.slug).order_by(Tenant.slug)
            if slug is not None:
                query = query.where(Tenant.slug == slug)
            return [(tenant_id, tenant_slug) for tenant_id, tenant_slug in session.execute(query)]

    def _purge_tenant(self, tenant_id: str, now: datetime) -> int | None:
        """Entries deleted, or None when the chain is broken and nothing was deleted."""
        with transaction(self.sessions, tenant_id) as session:
            bind_keyring(session, self.keyring)
            tenant = session.scalars(select(Tenant).where(Tenant.id == tenant_id)).one()
            try:
                deleted = audit.purge_expired(session, tenant, now)
            except ValueError as exc:  # a malformed retention setting: say so, touch nothing
                log.error("audit retention skipped tenant %s: %s", tenant.slug, exc)
                return None
            except audit.ChainBroken as broken:
                log.error("audit retention skipped tenant %s: %s", tenant.slug, broken)
                activity.metric_meter().create_counter(
                    AUDIT_VERIFICATION_FAILURES,
                    "Audit-chain verifications that found a broken chain",
                ).add(1, {"tenant": tenant.slug})
                audit.record(
                    session,
                    ACTOR,
                    "audit.purge_refused",
                    details={
                        "broken_entry_id": broken.verification.broken_entry_id,
                        "reason": broken.verification.reason,
                    },
                    outcome=audit.Outcome.FAILURE,
                )
                return None
            if deleted:
                head = audit.head(session)
                audit.record(
                    session,
                    ACTOR,
                    "audit.purged",
                    details={
                        "deleted": deleted,
                        "through_seq": head.anchor_seq if head else None,
                        "retention_days": audit.retention_days(tenant),
                    },
                )
            return deleted
