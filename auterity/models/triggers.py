"""What starts runs without a person: webhook triggers and the tenant's record of its schedules.

A webhook trigger owns a signing secret, sealed at rest (key id + AES-GCM
ciphertext, bound to the tenant and trigger id). A schedule lives in Temporal
(spec, policy, state, action); the row here only makes it listable per tenant
and remembers the spec as written, since Temporal keeps cron strings only in a
canonical calendar form.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKeyConstraint, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from auterity.models.base import Base, TenantOwned, utcnow


def new_trigger_id() -> str:
    return f"wh_{secrets.token_hex(12)}"


class WebhookTrigger(TenantOwned, Base):
    """`POST /v1/hooks/<id>` with an HMAC-signed body starts a run of `graph_id`."""

    __tablename__ = "webhook_triggers"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "graph_id"], ["graphs.tenant_id", "graphs.id"], ondelete="CASCADE"
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=new_trigger_id)
    name: Mapped[str] = mapped_column(String(200))
    graph_id: Mapped[str] = mapped_column(String(40), index=True)
    version_id: Mapped[str | None] = mapped_column(
        String(80), nullable=True, doc="A pinned version; the graph's current version if None"
    )
    inputs: Mapped[dict[str, Any] | None] = mapped_column(
        JSON, nullable=True, doc="Input name -> template over body, headers, query; None: the body"
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    secret_key_id: Mapped[str] = mapped_column(String(16))
    secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    secret_rotated_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class GraphSchedule(TenantOwned, Base):
    """A Temporal Schedule of the tenant (id `<tenant-slug>:sched:<short id>`)."""

    __tablename__ = "graph_schedules"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "graph_id"], ["graphs.tenant_id", "graphs.id"], ondelete="CASCADE"
        ),
    )

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    graph_id: Mapped[str] = mapped_column(String(40), index=True)
    cron: Mapped[list[str]] = mapped_column(JSON, default=list)
    interval: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
