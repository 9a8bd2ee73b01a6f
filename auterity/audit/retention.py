"""Retention: delete a tenant's entries older than its setting, keeping the chain verifiable.

Retention deletes the oldest entries past a tenant's `audit_retention_days`
(tenant settings) and keeps the hash of the last deleted entry as the chain's
anchor, so what remains still verifies from the anchor on.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from auterity.audit.chain import Verification, head, verify
from auterity.models.audit import AuditEntry
from auterity.models.tenancy import Tenant

RETENTION_SETTING = "audit_retention_days"
DEFAULT_RETENTION_DAYS = 365


def retention_days(tenant: Tenant) -> int | None:
    """The tenant's retention in days; None (or 0) keeps everything."""
    value = (tenant.settings or {}).get(RETENTION_SETTING, DEFAULT_RETENTION_DAYS)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(
            f"tenant {tenant.slug}: settings.{RETENTION_SETTING} must be a whole number of days "
            f"(0 keeps everything), not {value!r}"
        )
    return value or None


def purge_expired(session: Session, tenant: Tenant, now: datetime) -> int:
    """Delete the tenant's entries older than its retention; the chain keeps verifying.

    Only the longest prefix of expired entries goes, and only once it verifies:
    retention never erases the evidence of tampering. The hash of the last
    deleted entry becomes the chain's anchor.
    """
    days = retention_days(tenant)
    chain_head = head(session)
    if not days or chain_head is None:
        return 0
    cutoff = now - timedelta(days=days)
    first_kept = session.scalar(
        select(func.min(AuditEntry.seq)).where(AuditEntry.occurred_at >= cutoff)
    )
    cut = (first_kept - 1) if first_kept is not None else chain_head.last_seq
    if cut <= chain_head.anchor_seq:
        return 0
    check = verify(session)
    if check.broken_seq is not None and check.broken_seq <= cut:
        raise ChainBroken(check)
    if session.get_bind().dialect.name == "postgresql":
        # The app's login may neither delete entries nor move the anchor: the owner's
        # function does, and only for entries past the tenant's own retention.
        deleted = session.scalar(
            text("SELECT auterity_audit_purge(:tenant, :cut)"),
            {"tenant": tenant.id, "cut": cut},
        )
        session.expire(chain_head)
        return int(deleted or 0)
    anchor = session.scalars(select(AuditEntry).where(AuditEntry.seq == cut)).one()
    deleted = session.execute(
        delete(AuditEntry).where(AuditEntry.seq <= cut).execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    chain_head.anchor_seq, chain_head.anchor_hash = cut, anchor.hash
    session.flush()
    return int(deleted)


class ChainBroken(RuntimeError):
    """Retention refused to delete entries from a chain that does not verify."""

    def __init__(self, verification: Verification) -> None:
        super().__init__(
            f"audit chain broken at entry {verification.broken_entry_id}: {verification.reason}"
        )
        self.verification = verification
