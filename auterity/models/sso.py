"""Single sign-on and SCIM: per-tenant IdP configuration, linked identities, the one-time
state of sign-ins in flight, replay memory, SCIM tokens, users and groups."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    ForeignKeyConstraint,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from auterity.models.base import Base, TenantOwned, new_id, utcnow


class SsoConfig(TenantOwned, Base):
    """A tenant's SSO settings: SAML and/or OIDC, role mapping, whether SSO is required.

    Non-secret settings are JSON; the OIDC client secret and the SAML service
    provider's private key are sealed with the secrets key ring (tenant and purpose
    are the associated data) and never returned.
    """

    __tablename__ = "sso_configs"

    tenant_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    saml: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    oidc: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    oidc_secret_key_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    oidc_secret_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    sp_certificate: Mapped[str | None] = mapped_column(Text, nullable=True)
    sp_key_key_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    sp_key_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    role_mappings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    default_roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    jit_provisioning: Mapped[bool] = mapped_column(Boolean, default=True)
    require_sso: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SsoIdentity(TenantOwned, Base):
    """A person as an IdP knows them, (issuer, subject), linked to a user of this tenant."""

    __tablename__ = "sso_identities"
    __table_args__ = (UniqueConstraint("tenant_id", "issuer", "subject"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    protocol: Mapped[str] = mapped_column(String(8))
    issuer: Mapped[str] = mapped_column(String(512))
    subject: Mapped[str] = mapped_column(String(512))
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(nullable=True)


class SsoRequest(TenantOwned, Base):
    """A sign-in sent to an IdP and not yet answered: a SAML AuthnRequest (id = its ID) or an
    OIDC authorization request (id = sha256 of its state). Used once, then spent."""

    __tablename__ = "sso_requests"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    protocol: Mapped[str] = mapped_column(String(8))
    return_to: Mapped[str] = mapped_column(String(512), default="/")
    browser_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    nonce: Mapped[str | None] = mapped_column(String(128), nullable=True)
    verifier_key_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    verifier_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(nullable=True)


class SsoSeenAssertion(TenantOwned, Base):
    """A SAML assertion id already accepted, remembered until its NotOnOrAfter: a replay fails."""

    __tablename__ = "sso_seen_assertions"

    tenant_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    assertion_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class SsoHandoff(TenantOwned, Base):
    """A one-time code (sha256 only) the browser trades for its token pair, bound to the
    browser by a cookie's digest; short-lived, spent on first use."""

    __tablename__ = "sso_handoffs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36), ForeignKey("users.id", ondelete="CASCADE"))
    method: Mapped[str] = mapped_column(String(8))
    browser_hash: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(nullable=True)


class ScimToken(TenantOwned, Base):
    """The bearer token a tenant's IdP provisions with (sha256 only; shown once)."""

    __tablename__ = "scim_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class ScimUser(TenantOwned, Base):
    """What SCIM says about a member of this tenant: its userName and the IdP's externalId."""

    __tablename__ = "scim_users"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_name"),
        UniqueConstraint("tenant_id", "external_id"),
    )

    tenant_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    user_name: Mapped[str] = mapped_column(String(320))
    external_id: Mapped[str | None] = mapped_column(String(256), nullable=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)


class ScimGroup(TenantOwned, Base):
    """A group pushed by the IdP; its members get the roles the tenant maps its name to."""

    __tablename__ = "scim_groups"
    __table_args__ = (
        UniqueConstraint("tenant_id", "display_name"),
        UniqueConstraint("tenant_id", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    display_name: Mapped[str] = mapped_column(String(256))
    external_id: Mapped[str | None] = mapped_column(String(256), nullable=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)


class ScimGroupMember(TenantOwned, Base):
    __tablename__ = "scim_group_members"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "group_id"], ["scim_groups.tenant_id", "scim_groups.id"],
            ondelete="CASCADE",
        ),
    )  # fmt: skip

    group_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
