"""Secrets are bound to the hosts they may be sent to.

Revision ID: 0006_tenant_safety
Revises: 0005_triggers
Create Date: 2026-12-02

`allowed_hosts` is a JSON list of host names (`api.example.com`, `*.example.com`)
and addresses. Rows written before it have none: outside production such a
secret may still be sent anywhere the egress policy allows; in production it is
sent nowhere until its hosts are set.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_tenant_safety"
down_revision: str | None = "0005_triggers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("secrets") as table:
        table.add_column(sa.Column("allowed_hosts", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("secrets") as table:
        table.drop_column("allowed_hosts")
