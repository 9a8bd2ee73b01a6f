"""Tenant secrets, encrypted at rest and bound to the hosts they may be sent to; the key id
says which key sealed each value."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from auterity.models.base import Base, TenantOwned, new_id, utcnow


class Secret(TenantOwned, Base):
    """A credential graphs reference as `{{ secrets.<name> }}`; only activities decrypt it,
    and send it only to `allowed_hosts` (None: not bound, refused in production)."""

    __tablename__ = "secrets"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    key_id: Mapped[str] = mapped_column(String(16))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    version: Mapped[int] = mapped_column(Integer, default=1)
    allowed_hosts: Mapped[list[str] | None] = mapped_column(JSON, nullable=True, default=None)
    created_by: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
