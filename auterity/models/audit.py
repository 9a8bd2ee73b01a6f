"""The audit trail: append-only entries, hash-chained per tenant, and each chain's head."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from auterity.models.base import Base, TenantOwned, new_id, utcnow


class AuditEntry(TenantOwned, Base):
    """One audited event; `hash` = HMAC-SHA256 under key `key_id` of prev_hash + the
    canonical JSON of the entry (plain sha256 for entries written before keys, key_id None)."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        UniqueConstraint("tenant_id", "seq"),
        Index("ix_audit_entries_tenant_id_occurred_at", "tenant_id", "occurred_at"),
        Index("ix_audit_entries_tenant_id_action", "tenant_id", "action"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    seq: Mapped[int] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    actor_name: Mapped[str | None] = mapped_column(String(320), nullable=True)
    action: Mapped[str] = mapped_column(String(100))
    target_type: Mapped[str | None] = mapped_column(String(50), nullable=True)
    target_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    targets: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    outcome: Mapped[str] = mapped_column(String(16))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(16), nullable=True)


class AuditHead(TenantOwned, Base):
    """The end of a tenant's chain, and the anchor left where retention cut its start."""

    __tablename__ = "audit_heads"

    tenant_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
    anchor_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    anchor_hash: Mapped[str] = mapped_column(String(64))
    keyed_from_seq: Mapped[int] = mapped_column(
        BigInteger, default=1, server_default="1", doc="Entries from this seq on must be keyed"
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
