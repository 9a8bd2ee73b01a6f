"""Single sign-on (SAML, OIDC) and SCIM provisioning; row-level security on PostgreSQL.

Revision ID: 0007_sso
Revises: 0005_triggers
Create Date: 2026-12-02
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from auterity.security import rls

revision: str = "0007_sso"
down_revision: str | None = "0006_tenant_safety"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = (
    "sso_configs",
    "sso_identities",
    "sso_requests",
    "sso_seen_assertions",
    "sso_handoffs",
    "scim_tokens",
    "scim_users",
    "scim_groups",
    "scim_group_members",
)
# Credentials presented before the tenant is known: the one row with the presented hash.
LOOKUP_POLICIES = (
    ("sso_handoffs", "presented_sso_handoff", "id = current_setting('app.credential_hash', true)"),
    (
        "scim_tokens",
        "presented_scim_token",
        "token_hash = current_setting('app.credential_hash', true)",
    ),
)


def _tenant(table: str) -> list[Any]:
    return [
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f(f"fk_{table}_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
    ]  # fmt: skip


def _user(table: str, column: str = "user_id", ondelete: str = "CASCADE") -> Any:
    return sa.ForeignKeyConstraint(
        [column], ["users.id"], name=op.f(f"fk_{table}_{column}_users"), ondelete=ondelete
    )


def _created() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "sso_configs",
        *_tenant("sso_configs"),
        sa.Column("saml", sa.JSON(), nullable=True),
        sa.Column("oidc", sa.JSON(), nullable=True),
        sa.Column("oidc_secret_key_id", sa.String(16), nullable=True),
        sa.Column("oidc_secret_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("sp_certificate", sa.Text(), nullable=True),
        sa.Column("sp_key_key_id", sa.String(16), nullable=True),
        sa.Column("sp_key_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("role_mappings", sa.JSON(), nullable=False),
        sa.Column("default_roles", sa.JSON(), nullable=False),
        sa.Column("jit_provisioning", sa.Boolean(), nullable=False),
        sa.Column("require_sso", sa.Boolean(), nullable=False),
        _created(),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_sso_configs")),
    )
    op.create_table(
        "sso_identities",
        sa.Column("id", sa.String(36), nullable=False),
        *_tenant("sso_identities"),
        sa.Column("protocol", sa.String(8), nullable=False),
        sa.Column("issuer", sa.String(512), nullable=False),
        sa.Column("subject", sa.String(512), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("groups", sa.JSON(), nullable=False),
        _created(),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sso_identities")),
        _user("sso_identities"),
        sa.UniqueConstraint(
            "tenant_id",
            "issuer",
            "subject",
            name=op.f("uq_sso_identities_tenant_id_issuer_subject"),
        ),
    )
    op.create_index(op.f("ix_sso_identities_tenant_id"), "sso_identities", ["tenant_id"])
    op.create_index(op.f("ix_sso_identities_user_id"), "sso_identities", ["user_id"])
    op.create_table(
        "sso_requests",
        sa.Column("id", sa.String(80), nullable=False),
        *_tenant("sso_requests"),
        sa.Column("protocol", sa.String(8), nullable=False),
        sa.Column("return_to", sa.String(512), nullable=False),
        sa.Column("browser_hash", sa.String(64), nullable=True),
        sa.Column("nonce", sa.String(128), nullable=True),
        sa.Column("verifier_key_id", sa.String(16), nullable=True),
        sa.Column("verifier_ciphertext", sa.LargeBinary(), nullable=True),
        _created(),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sso_requests")),
    )
    op.create_index(op.f("ix_sso_requests_tenant_id"), "sso_requests", ["tenant_id"])
    op.create_table(
        "sso_seen_assertions",
        *_tenant("sso_seen_assertions"),
        sa.Column("assertion_id", sa.String(256), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "assertion_id", name=op.f("pk_sso_seen_assertions")),
    )
    op.create_index(
        op.f("ix_sso_seen_assertions_expires_at"), "sso_seen_assertions", ["expires_at"]
    )
    op.create_table(
        "sso_handoffs",
        sa.Column("id", sa.String(64), nullable=False),
        *_tenant("sso_handoffs"),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("browser_hash", sa.String(64), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        _created(),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sso_handoffs")),
        _user("sso_handoffs"),
    )
    op.create_index(op.f("ix_sso_handoffs_tenant_id"), "sso_handoffs", ["tenant_id"])
    op.create_table(
        "scim_tokens",
        sa.Column("id", sa.String(36), nullable=False),
        *_tenant("scim_tokens"),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(36), nullable=True),
        _created(),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scim_tokens")),
        _user("scim_tokens", "created_by", "SET NULL"),
        sa.UniqueConstraint("token_hash", name=op.f("uq_scim_tokens_token_hash")),
    )
    op.create_index(op.f("ix_scim_tokens_tenant_id"), "scim_tokens", ["tenant_id"])
    op.create_table(
        "scim_users",
        *_tenant("scim_users"),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("user_name", sa.String(320), nullable=False),
        sa.Column("external_id", sa.String(256), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        _created(),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "user_id", name=op.f("pk_scim_users")),
        _user("scim_users"),
        sa.UniqueConstraint(
            "tenant_id", "user_name", name=op.f("uq_scim_users_tenant_id_user_name")
        ),
        sa.UniqueConstraint(
            "tenant_id", "external_id", name=op.f("uq_scim_users_tenant_id_external_id")
        ),
    )
    op.create_table(
        "scim_groups",
        sa.Column("id", sa.String(36), nullable=False),
        *_tenant("scim_groups"),
        sa.Column("display_name", sa.String(256), nullable=False),
        sa.Column("external_id", sa.String(256), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        _created(),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scim_groups")),
        sa.UniqueConstraint(
            "tenant_id", "display_name", name=op.f("uq_scim_groups_tenant_id_display_name")
        ),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_scim_groups_tenant_id_id")),
    )
    op.create_index(op.f("ix_scim_groups_tenant_id"), "scim_groups", ["tenant_id"])
    op.create_table(
        "scim_group_members",
        *_tenant("scim_group_members"),
        sa.Column("group_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("group_id", "user_id", name=op.f("pk_scim_group_members")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "group_id"], ["scim_groups.tenant_id", "scim_groups.id"],
            name=op.f("fk_scim_group_members_tenant_id_scim_groups"), ondelete="CASCADE",
        ),
        _user("scim_group_members"),
    )  # fmt: skip
    op.create_index(op.f("ix_scim_group_members_tenant_id"), "scim_group_members", ["tenant_id"])
    for table in TENANT_TABLES:
        rls.enable_tenant_rls(table)
    for table, name, condition in LOOKUP_POLICIES:
        rls.add_lookup_policy(table, name, condition)


def downgrade() -> None:
    for table, name, _condition in LOOKUP_POLICIES:
        rls.drop_policy(table, name)
    for table in TENANT_TABLES:
        rls.disable_tenant_rls(table)
    for table in reversed(TENANT_TABLES):
        op.drop_table(table)
