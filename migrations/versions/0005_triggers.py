"""Webhook triggers and the tenant's schedules; row-level security on PostgreSQL.

Revision ID: 0005_triggers
Revises: 0004_graphs
Create Date: 2026-11-25
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from auterity.security import rls

revision: str = "0005_triggers"
down_revision: str | None = "0004_graphs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ("webhook_triggers", "graph_schedules")
# A public webhook delivery names its trigger before the tenant is known: that one row opens.
LOOKUP_POLICIES = (
    ("webhook_triggers", "delivered_webhook", "id = current_setting('app.trigger_id', true)"),
)


def _tenant_and_graph(table: str) -> list[Any]:
    return [
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f(f"fk_{table}_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "graph_id"], ["graphs.tenant_id", "graphs.id"],
            name=op.f(f"fk_{table}_tenant_id_graphs"), ondelete="CASCADE",
        ),
    ]  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "webhook_triggers",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("graph_id", sa.String(40), nullable=False),
        sa.Column("version_id", sa.String(80), nullable=True),
        sa.Column("inputs", sa.JSON(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("secret_key_id", sa.String(16), nullable=False),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("secret_rotated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        *_tenant_and_graph("webhook_triggers"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_triggers")),
    )
    op.create_index(op.f("ix_webhook_triggers_tenant_id"), "webhook_triggers", ["tenant_id"])
    op.create_index(op.f("ix_webhook_triggers_graph_id"), "webhook_triggers", ["graph_id"])
    op.create_table(
        "graph_schedules",
        sa.Column("id", sa.String(120), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("graph_id", sa.String(40), nullable=False),
        sa.Column("cron", sa.JSON(), nullable=False),
        sa.Column("interval", sa.String(32), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        *_tenant_and_graph("graph_schedules"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_graph_schedules")),
    )
    op.create_index(op.f("ix_graph_schedules_tenant_id"), "graph_schedules", ["tenant_id"])
    op.create_index(op.f("ix_graph_schedules_graph_id"), "graph_schedules", ["graph_id"])
    for table in TENANT_TABLES:
        rls.enable_tenant_rls(table)
    for table, name, condition in LOOKUP_POLICIES:
        rls.add_lookup_policy(table, name, condition)


def downgrade() -> None:
    for table, name, _condition in LOOKUP_POLICIES:
        rls.drop_policy(table, name)
    for table in TENANT_TABLES:
        rls.disable_tenant_rls(table)
    op.drop_table("graph_schedules")
    op.drop_table("webhook_triggers")
