"""The model gateway's tables: a tenant's routes, budgets, their spending windows, and the
cost ledger.

Money is stored as whole nano-dollars (1e-9 USD, `*_nanos`): exact on every engine, and
the budget admission is one conditional UPDATE of integers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from auterity.models.base import Base, TenantOwned, new_id, utcnow


class ModelRoute(TenantOwned, Base):
    """A route name the `llm` node uses (`route: "fast"`) -> deployments, strategy,
    fallbacks; `config` is `auterity.gateway.routes.RouteConfig` as JSON. `version` grows
    with every change, so workers rebuild their cached Router."""

    __tablename__ = "model_routes"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Budget(TenantOwned, Base):
    """A spending limit per day or month (UTC) on the tenant, or on one graph or route of it;
    `hard` refuses calls that could pass it, `warn` only reports."""

    __tablename__ = "budgets"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    graph_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    route: Mapped[str | None] = mapped_column(String(100), nullable=True)
    period: Mapped[str] = mapped_column(String(16))
    limit_nanos: Mapped[int] = mapped_column(BigInteger)
    enforcement: Mapped[str] = mapped_column(String(8))
    created_by: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class BudgetWindow(TenantOwned, Base):
    """One period of one budget: what was spent and what open calls have reserved."""

    __tablename__ = "budget_windows"
    __table_args__ = (
        UniqueConstraint("budget_id", "starts_at"),
        ForeignKeyConstraint(["budget_id"], ["budgets.id"], ondelete="CASCADE"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    budget_id: Mapped[str] = mapped_column(String(36), index=True)
    starts_at: Mapped[datetime] = mapped_column()
    spent_nanos: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved_nanos: Mapped[int] = mapped_column(BigInteger, default=0)


class LedgerEntry(TenantOwned, Base):
    """One model call of one node attempt: reserved before, settled (or released) after.

    The key (workflow, run, node, attempt) makes a redelivered attempt find its own entry
    instead of charging again; a reservation whose worker died expires at `expires_at`."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("tenant_id", "workflow_id", "run_id", "node_id", "attempt"),
        Index("ix_ledger_entries_open", "tenant_id", "status", "expires_at"),
        Index("ix_ledger_entries_settled", "tenant_id", "settled_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workflow_id: Mapped[str] = mapped_column(String(300))
    run_id: Mapped[str] = mapped_column(String(64))
    node_id: Mapped[str] = mapped_column(String(200))
    attempt: Mapped[int] = mapped_column(Integer)
    graph_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    route: Mapped[str | None] = mapped_column(String(100), nullable=True)
    model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    deployment: Mapped[str | None] = mapped_column(String(200), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    reserved_nanos: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_nanos: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    cost_known: Mapped[bool] = mapped_column(Boolean, default=True)
    cached: Mapped[bool] = mapped_column(Boolean, default=False)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    windows: Mapped[list[str]] = mapped_column(JSON, default=list)
    expires_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(nullable=True)


class RegistryEntry(TenantOwned, Base):
    """A named model or prompt of the tenant's registry; its versions are immutable."""

    __tablename__ = "registry_entries"
    __table_args__ = (UniqueConstraint("tenant_id", "kind", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(100))
    created_by: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RegistryVersion(TenantOwned, Base):
    """One immutable version of a registry entry (`spec`: a prompt's template and settings,
    or a model's route and settings)."""

    __tablename__ = "registry_versions"
    __table_args__ = (
        UniqueConstraint("entry_id", "version"),
        ForeignKeyConstraint(["entry_id"], ["registry_entries.id"], ondelete="CASCADE"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    entry_id: Mapped[str] = mapped_column(String(36), index=True)
    version: Mapped[int] = mapped_column(Integer)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RegistryAlias(TenantOwned, Base):
    """A movable name (`production`, `staging`, …) for one version of an entry."""

    __tablename__ = "registry_aliases"
    __table_args__ = (
        UniqueConstraint("entry_id", "alias"),
        ForeignKeyConstraint(["entry_id"], ["registry_entries.id"], ondelete="CASCADE"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    entry_id: Mapped[str] = mapped_column(String(36), index=True)
    alias: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
