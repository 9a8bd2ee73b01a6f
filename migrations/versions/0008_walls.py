"""Walls: a keyed audit chain the app's login can only append to, and retention through
the owner's function.

- `audit_entries.key_id`: the key an entry's HMAC is under (None: an entry written
  before, plain sha256, which still verifies);
- `audit_heads.keyed_from_seq`: where keyed entries start (after every entry written
  so far), so a rewrite cannot pass keyed entries off as old unkeyed ones;
- PostgreSQL: the app's role loses DELETE on audit entries and heads and UPDATE on a
  head's anchor and cut-over (it may still move the head as it appends); retention runs
  `auterity_audit_purge`, a SECURITY DEFINER function that deletes only the prefix of a
  tenant's entries past the tenant's own retention and moves the anchor itself.

Revision ID: 0008_walls
Revises: 0005_triggers
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from auterity.security import rls

revision: str = "0008_walls"
down_revision: str | None = "0007_sso"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP = rls.APP_ROLE
PURGE = """
CREATE FUNCTION {schema}.auterity_audit_purge(p_tenant text, p_cut bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp AS $fn$
DECLARE
    days integer;
    chain audit_heads%ROWTYPE;
    last_old bigint;
    anchor text;
    deleted bigint;
BEGIN
    PERFORM set_config('app.tenant_id', p_tenant, true);
    SELECT COALESCE((settings ->> 'audit_retention_days')::integer, 365) INTO days
      FROM tenants WHERE id = p_tenant;
    IF days IS NULL OR days <= 0 THEN
        RETURN 0;
    END IF;
    SELECT * INTO chain FROM audit_heads WHERE tenant_id = p_tenant FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    -- Only the prefix past retention, by the database's clock, and no further than asked.
    SELECT COALESCE(MIN(seq) - 1, chain.last_seq) INTO last_old FROM audit_entries
     WHERE tenant_id = p_tenant AND occurred_at >= now() - make_interval(days => days);
    last_old := LEAST(last_old, p_cut);
    IF last_old <= chain.anchor_seq THEN
        RETURN 0;
    END IF;
    SELECT hash INTO anchor FROM audit_entries WHERE tenant_id = p_tenant AND seq = last_old;
    IF anchor IS NULL THEN
        RAISE EXCEPTION 'audit entry % of tenant % is missing', last_old, p_tenant;
    END IF;
    DELETE FROM audit_entries WHERE tenant_id = p_tenant AND seq <= last_old;
    GET DIAGNOSTICS deleted = ROW_COUNT;
    UPDATE audit_heads SET anchor_seq = last_old, anchor_hash = anchor
     WHERE tenant_id = p_tenant;
    RETURN deleted;
END
$fn$
"""


def upgrade() -> None:
    op.add_column("audit_entries", sa.Column("key_id", sa.String(16), nullable=True))
    op.add_column(
        "audit_heads",
        sa.Column("keyed_from_seq", sa.BigInteger(), nullable=False, server_default="1"),
    )
    if not rls.is_postgres():
        op.execute("UPDATE audit_heads SET keyed_from_seq = last_seq + 1")
        return
    # Row-level security binds the owner too: lift it for this one statement.
    op.execute("ALTER TABLE audit_heads NO FORCE ROW LEVEL SECURITY")
    op.execute("UPDATE audit_heads SET keyed_from_seq = last_seq + 1")
    op.execute("ALTER TABLE audit_heads FORCE ROW LEVEL SECURITY")
    schema = op.get_bind().execute(sa.text("SELECT current_schema()")).scalar_one()
    op.execute(PURGE.format(schema=f'"{schema}"'))
    op.execute("REVOKE ALL ON FUNCTION auterity_audit_purge(text, bigint) FROM PUBLIC")
    op.execute(
        f"""
        DO $$
        BEGIN
            IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP}') THEN
                REVOKE UPDATE, DELETE ON audit_entries FROM {APP};
                REVOKE UPDATE, DELETE ON audit_heads FROM {APP};
                GRANT UPDATE (last_seq, last_hash, updated_at) ON audit_heads TO {APP};
                GRANT EXECUTE ON FUNCTION auterity_audit_purge(text, bigint) TO {APP};
            END IF;
        END
        $$;
        """
    )


def downgrade() -> None:
    if rls.is_postgres():
        op.execute(
            f"""
            DO $$
            BEGIN
                IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP}') THEN
                    REVOKE UPDATE (last_seq, last_hash, updated_at) ON audit_heads FROM {APP};
                    GRANT UPDATE, DELETE ON audit_heads TO {APP};
                    GRANT DELETE ON audit_entries TO {APP};
                END IF;
            END
            $$;
            """
        )
        op.execute("DROP FUNCTION IF EXISTS auterity_audit_purge(text, bigint)")
    op.drop_column("audit_heads", "keyed_from_seq")
    op.drop_column("audit_entries", "key_id")
