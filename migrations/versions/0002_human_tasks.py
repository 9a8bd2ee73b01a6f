"""Human tasks: the inbox approval nodes write to.

Revision ID: 0002_human_tasks
Revises: 0001_foundation
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_human_tasks"
down_revision: str | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "human_tasks",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("execution_id", sa.String(255), nullable=False),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("assignees", sa.JSON(), nullable=False),
        sa.Column("form", sa.JSON(), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decision", sa.String(200), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("completed_by", sa.String(320), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_human_tasks")),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_human_tasks_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'completed', 'timed_out', 'cancelled')",
            name=op.f("ck_human_tasks_status"),
        ),
    )
    op.create_index(op.f("ix_human_tasks_tenant_id"), "human_tasks", ["tenant_id"])
    op.create_index(op.f("ix_human_tasks_execution_id"), "human_tasks", ["execution_id"])
    op.create_index("ix_human_tasks_tenant_id_status", "human_tasks", ["tenant_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_human_tasks_tenant_id_status", table_name="human_tasks")
    op.drop_index(op.f("ix_human_tasks_execution_id"), table_name="human_tasks")
    op.drop_index(op.f("ix_human_tasks_tenant_id"), table_name="human_tasks")
    op.drop_table("human_tasks")
