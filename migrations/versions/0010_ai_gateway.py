"""AI gateway: per-tenant model routes, budgets and their windows, the cost ledger;
row-level security per tenant on PostgreSQL.

Revision ID: 0010_ai_gateway
Revises: 0009_accounts
Create Date: 2026-11-30
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from auterity.security import rls

revision: str = "0010_ai_gateway"
down_revision: str | None = "0009_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = (
    "model_routes", "budgets", "budget_windows", "ledger_entries",
    "registry_entries", "registry_versions", "registry_aliases",
)  # fmt: skip


def _tenant(table: str) -> list[Any]:
    return [
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f(f"fk_{table}_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
    ]  # fmt: skip


def _created_by(table: str) -> list[Any]:
    return [
        sa.Column("created_by", sa.String(36), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f(f"fk_{table}_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "model_routes",
        sa.Column("id", sa.String(36), nullable=False),
        *_tenant("model_routes"),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        *_created_by("model_routes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_routes")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_model_routes_tenant_id_name")),
    )
    op.create_index(op.f("ix_model_routes_tenant_id"), "model_routes", ["tenant_id"])
    op.create_table(
        "budgets",
        sa.Column("id", sa.String(36), nullable=False),
        *_tenant("budgets"),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("graph_id", sa.String(80), nullable=True),
        sa.Column("route", sa.String(100), nullable=True),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("limit_nanos", sa.BigInteger(), nullable=False),
        sa.Column("enforcement", sa.String(8), nullable=False),
        *_created_by("budgets"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budgets")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_budgets_tenant_id_name")),
    )
    op.create_index(op.f("ix_budgets_tenant_id"), "budgets", ["tenant_id"])
    op.create_table(
        "budget_windows",
        sa.Column("id", sa.String(36), nullable=False),
        *_tenant("budget_windows"),
        sa.Column("budget_id", sa.String(36), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("spent_nanos", sa.BigInteger(), nullable=False),
        sa.Column("reserved_nanos", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_windows")),
        sa.ForeignKeyConstraint(
            ["budget_id"], ["budgets.id"], name=op.f("fk_budget_windows_budget_id_budgets"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "budget_id", "starts_at", name=op.f("uq_budget_windows_budget_id_starts_at")
        ),
    )  # fmt: skip
    op.create_index(op.f("ix_budget_windows_tenant_id"), "budget_windows", ["tenant_id"])
    op.create_index(op.f("ix_budget_windows_budget_id"), "budget_windows", ["budget_id"])
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.String(36), nullable=False),
        *_tenant("ledger_entries"),
        sa.Column("workflow_id", sa.String(300), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("node_id", sa.String(200), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("graph_id", sa.String(80), nullable=True),
        sa.Column("route", sa.String(100), nullable=True),
        sa.Column("model", sa.String(200), nullable=True),
        sa.Column("deployment", sa.String(200), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reserved_nanos", sa.BigInteger(), nullable=False),
        sa.Column("cost_nanos", sa.BigInteger(), nullable=True),
        sa.Column("cost_known", sa.Boolean(), nullable=False),
        sa.Column("cached", sa.Boolean(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("windows", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint(
            "tenant_id", "workflow_id", "run_id", "node_id", "attempt",
            name=op.f("uq_ledger_entries_tenant_id_workflow_id_run_id_node_id_attempt"),
        ),
    )  # fmt: skip
    op.create_index(op.f("ix_ledger_entries_tenant_id"), "ledger_entries", ["tenant_id"])
    # The sweep of expired reservations, and the spend report's day ranges.
    op.create_index(
        "ix_ledger_entries_open", "ledger_entries", ["tenant_id", "status", "expires_at"]
    )
    op.create_index("ix_ledger_entries_settled", "ledger_entries", ["tenant_id", "settled_at"])
    op.create_table(
        "registry_entries",
        sa.Column("id", sa.String(36), nullable=False),
        *_tenant("registry_entries"),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_by", sa.String(36), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_registry_entries_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_entries")),
        sa.UniqueConstraint(
            "tenant_id", "kind", "name", name=op.f("uq_registry_entries_tenant_id_kind_name")
        ),
    )  # fmt: skip
    op.create_index(op.f("ix_registry_entries_tenant_id"), "registry_entries", ["tenant_id"])
    op.create_table(
        "registry_versions",
        sa.Column("id", sa.String(36), nullable=False),
        *_tenant("registry_versions"),
        sa.Column("entry_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(36), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_registry_versions_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_versions")),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["registry_entries.id"],
            name=op.f("fk_registry_versions_entry_id_registry_entries"), ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "entry_id", "version", name=op.f("uq_registry_versions_entry_id_version")
        ),
    )  # fmt: skip
    op.create_index(op.f("ix_registry_versions_tenant_id"), "registry_versions", ["tenant_id"])
    op.create_index(op.f("ix_registry_versions_entry_id"), "registry_versions", ["entry_id"])
    op.create_table(
        "registry_aliases",
        sa.Column("id", sa.String(36), nullable=False),
        *_tenant("registry_aliases"),
        sa.Column("entry_id", sa.String(36), nullable=False),
        sa.Column("alias", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(36), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_registry_aliases_updated_by_users"),
            ondelete="SET NULL",
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_aliases")),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["registry_entries.id"],
            name=op.f("fk_registry_aliases_entry_id_registry_entries"), ondelete="CASCADE",
        ),
        sa.UniqueConstraint("entry_id", "alias", name=op.f("uq_registry_aliases_entry_id_alias")),
    )  # fmt: skip
    op.create_index(op.f("ix_registry_aliases_tenant_id"), "registry_aliases", ["tenant_id"])
    op.create_index(op.f("ix_registry_aliases_entry_id"), "registry_aliases", ["entry_id"])
    for table in TENANT_TABLES:
        rls.enable_tenant_rls(table)


def downgrade() -> None:
    for table in TENANT_TABLES:
        rls.disable_tenant_rls(table)
    for table in reversed(TENANT_TABLES):
        op.drop_table(table)
