"""Graphs, their immutable versions and tenant templates.

Revision ID: 0004_graphs
Revises: 0003_identity
Create Date: 2026-11-25
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from auterity.security import rls

revision: str = "0004_graphs"
down_revision: str | None = "0003_identity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ("graphs", "graph_versions", "graph_templates")


def _tenant(table: str) -> list[Any]:
    return [
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f(f"fk_{table}_tenant_id_tenants"),
            ondelete="CASCADE",
        ),  # fmt: skip
    ]


def upgrade() -> None:
    op.create_table(
        "graphs",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("current_version_id", sa.String(80), nullable=False),
        sa.Column("version_count", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        *_tenant("graphs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_graphs")),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_graphs_tenant_id_id")),
    )
    op.create_index(op.f("ix_graphs_tenant_id"), "graphs", ["tenant_id"])
    op.create_table(
        "graph_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("graph_id", sa.String(40), nullable=False),
        sa.Column("version_id", sa.String(80), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        *_tenant("graph_versions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_graph_versions")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "graph_id"],
            ["graphs.tenant_id", "graphs.id"],
            name=op.f("fk_graph_versions_tenant_id_graphs"),
            ondelete="CASCADE",
        ),  # fmt: skip
        sa.UniqueConstraint(
            "tenant_id",
            "graph_id",
            "version_id",
            name=op.f("uq_graph_versions_tenant_id_graph_id_version_id"),
        ),  # fmt: skip
        sa.UniqueConstraint(
            "tenant_id",
            "graph_id",
            "number",
            name=op.f("uq_graph_versions_tenant_id_graph_id_number"),
        ),  # fmt: skip
    )
    op.create_index(op.f("ix_graph_versions_tenant_id"), "graph_versions", ["tenant_id"])
    op.create_index(op.f("ix_graph_versions_graph_id"), "graph_versions", ["graph_id"])
    op.create_table(
        "graph_templates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("template_id", sa.String(63), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("graph", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        *_tenant("graph_templates"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_graph_templates")),
        sa.UniqueConstraint(
            "tenant_id",
            "template_id",
            "version",
            name=op.f("uq_graph_templates_tenant_id_template_id_version"),
        ),  # fmt: skip
    )
    op.create_index(op.f("ix_graph_templates_tenant_id"), "graph_templates", ["tenant_id"])
    op.create_index(op.f("ix_graph_templates_template_id"), "graph_templates", ["template_id"])
    for table in TENANT_TABLES:
        rls.enable_tenant_rls(table)


def downgrade() -> None:
    for table in TENANT_TABLES:
        rls.disable_tenant_rls(table)
    op.drop_table("graph_templates")
    op.drop_table("graph_versions")
    op.drop_table("graphs")
