"""Saved graphs, their immutable content-hashed versions, and tenant templates."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKeyConstraint, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from auterity.models.base import Base, TenantOwned, utcnow


def new_graph_id() -> str:
    return f"gr_{secrets.token_hex(6)}"


class SavedGraph(TenantOwned, Base):
    """A graph as its owners see it: a name and a pointer to its current version."""

    __tablename__ = "graphs"
    __table_args__ = (UniqueConstraint("tenant_id", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=new_graph_id)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    current_version_id: Mapped[str] = mapped_column(String(80))
    version_count: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(nullable=True)


class GraphVersion(TenantOwned, Base):
    """One immutable version: the normalized definition, keyed by its content hash."""

    __tablename__ = "graph_versions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "graph_id", "version_id"),
        UniqueConstraint("tenant_id", "graph_id", "number"),
        ForeignKeyConstraint(
            ["tenant_id", "graph_id"], ["graphs.tenant_id", "graphs.id"], ondelete="CASCADE"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    graph_id: Mapped[str] = mapped_column(String(40), index=True)
    version_id: Mapped[str] = mapped_column(String(80))
    number: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GraphTemplate(TenantOwned, Base):
    """A tenant's own template: a parameterized graph; every save is a new version."""

    __tablename__ = "graph_templates"
    __table_args__ = (UniqueConstraint("tenant_id", "template_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    template_id: Mapped[str] = mapped_column(String(63), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    graph: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
