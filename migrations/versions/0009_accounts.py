"""Accounts: invitations, and the isolation `tenants`, `users` and `login_attempts` can have.

- `invitations`: a tenant's offer of a membership to an email address, accepted by the
  person (signed in as that address, or with the token for a new account). Tenant-owned
  with row-level security; a presented token opens its one row before the tenant is known
  (`app.credential_hash`, as refresh tokens do).
- PostgreSQL, for the app's role (ENABLE, not FORCE: the owner, who migrates and runs the
  SECURITY DEFINER functions, is not bound):
  - `tenants`: readable (slugs resolve before the tenant is known: sign-in, webhooks,
    SSO), insertable (`auterity tenant create`), updatable only as that tenant
    (`app.tenant_id`), never deletable;
  - `users`: readable and insertable (an email is looked up before the tenant is known),
    updatable only as the user (`app.user_id`) or as a tenant the user is a member of,
    never deletable;
  - `login_attempts`: only the rows of the keys the login at hand counts
    (`app.login_keys`), plus deleting expired rows; never updatable.

Revision ID: 0009_accounts
Revises: 0008_walls
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from auterity.security import rls

revision: str = "0009_accounts"
down_revision: str | None = "0008_walls"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AS_TENANT = "id = current_setting('app.tenant_id', true)"
MEMBER_HERE = (
    "id = current_setting('app.user_id', true) OR EXISTS (SELECT 1 FROM memberships m "
    "WHERE m.user_id = users.id AND m.tenant_id = current_setting('app.tenant_id', true))"
)
LOGIN_KEY = "key = ANY (string_to_array(current_setting('app.login_keys', true), ' '))"
POLICIES = (
    ("tenants", "tenants_read", "SELECT", "USING (true)"),
    ("tenants", "tenants_create", "INSERT", "WITH CHECK (true)"),
    ("tenants", "tenants_update_own", "UPDATE", f"USING ({AS_TENANT}) WITH CHECK ({AS_TENANT})"),
    ("users", "users_read", "SELECT", "USING (true)"),
    ("users", "users_create", "INSERT", "WITH CHECK (true)"),
    ("users", "users_update_member", "UPDATE", f"USING ({MEMBER_HERE}) WITH CHECK ({MEMBER_HERE})"),
    ("login_attempts", "attempts_read", "SELECT", f"USING ({LOGIN_KEY})"),
    ("login_attempts", "attempts_count", "INSERT", f"WITH CHECK ({LOGIN_KEY})"),
    (
        "login_attempts",
        "attempts_clear",
        "DELETE",
        f"USING ({LOGIN_KEY} OR attempted_at < now() - interval '15 minutes')",
    ),
)


def upgrade() -> None:
    op.create_table(
        "invitations",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("invited_by", sa.String(36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_by", sa.String(36), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_invitations_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invited_by"],
            ["users.id"],
            name=op.f("fk_invitations_invited_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["accepted_by"],
            ["users.id"],
            name=op.f("fk_invitations_accepted_by_users"),
            ondelete="SET NULL",
        ),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitations_token_hash")),
    )
    op.create_index(op.f("ix_invitations_tenant_id"), "invitations", ["tenant_id"])
    rls.enable_tenant_rls("invitations")
    rls.add_lookup_policy(
        "invitations",
        "presented_invitation",
        "token_hash = current_setting('app.credential_hash', true)",
    )
    if not rls.is_postgres():
        return
    for table in ("tenants", "users", "login_attempts"):
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    for table, name, command, clause in POLICIES:
        op.execute(f"CREATE POLICY {name} ON {table} FOR {command} {clause}")
    op.execute(
        f"""
        DO $$
        BEGIN
            IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{rls.APP_ROLE}') THEN
                REVOKE DELETE ON tenants, users FROM {rls.APP_ROLE};
                REVOKE UPDATE ON login_attempts FROM {rls.APP_ROLE};
                GRANT SELECT, INSERT, UPDATE, DELETE ON invitations TO {rls.APP_ROLE};
            END IF;
        END
        $$;
        """
    )


def downgrade() -> None:
    if rls.is_postgres():
        for table, name, _command, _clause in POLICIES:
            op.execute(f"DROP POLICY IF EXISTS {name} ON {table}")
        for table in ("tenants", "users", "login_attempts"):
            op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        op.execute(
            f"""
            DO $$
            BEGIN
                IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{rls.APP_ROLE}') THEN
                    GRANT DELETE ON tenants, users TO {rls.APP_ROLE};
                    GRANT UPDATE ON login_attempts TO {rls.APP_ROLE};
                END IF;
            END
            $$;
            """
        )
    rls.drop_policy("invitations", "presented_invitation")
    rls.disable_tenant_rls("invitations")
    op.drop_index(op.f("ix_invitations_tenant_id"), table_name="invitations")
    op.drop_table("invitations")
