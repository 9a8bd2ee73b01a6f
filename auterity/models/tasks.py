"""Human tasks: the tenant's inbox of approvals opened by running graphs.

A task row is written by the `task.open` activity when an approval node starts
and closed by `task.close` once the workflow accepted a decision, timed out or
was cancelled. The decision itself travels to the workflow as a Temporal Update;
this table is what people list, read and act on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from auterity.models.base import Base, TenantOwned, new_id, utcnow

TASK_STATUSES = ("pending", "completed", "timed_out", "cancelled")


class HumanTask(TenantOwned, Base):
    """One human decision a run waits for."""

    __tablename__ = "human_tasks"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'completed', 'timed_out', 'cancelled')", name="status"
        ),
        Index("ix_human_tasks_tenant_id_status", "tenant_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    execution_id: Mapped[str] = mapped_column(String(255), index=True)
    node_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    assignees: Mapped[list[str]] = mapped_column(JSON, default=list)
    form: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    decision: Mapped[str | None] = mapped_column(String(200), nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    completed_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(nullable=True)
