"""A tenant's SSO configuration: the IdP settings, sealed secrets and the SP's key pair.

The stored shape is `SamlConnection` / `OidcConnection` (JSON columns) plus the
sealed values: the OIDC client secret and the SAML service provider's private
key, encrypted with the secrets key ring (associated data: tenant and purpose,
so a ciphertext copied to another tenant does not open). Neither is ever
returned; `describe` is what an admin reads back.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from onelogin.saml2.constants import OneLogin_Saml2_Constants as Saml
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from auterity.models.base import utcnow
from auterity.models.sso import SsoConfig
from auterity.secrets import session_keyring
from auterity.security.permissions import ROLE_NAME

NAMEID_EMAIL = Saml.NAMEID_EMAIL_ADDRESS
NAMEID_FORMATS = (
    Saml.NAMEID_EMAIL_ADDRESS,
    Saml.NAMEID_PERSISTENT,
    Saml.NAMEID_UNSPECIFIED,
    Saml.NAMEID_TRANSIENT,
)
SP_CERT_YEARS = 10


class SsoConfigError(ValueError):
    """A configuration that cannot be used; `field` is where, the message says what."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class _Stored(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SamlConnection(_Stored):
    """The IdP a tenant's SAML sign-ins go to, and how to read its assertions."""

    idp_entity_id: str = Field(min_length=1, max_length=512)
    idp_sso_url: str = Field(min_length=1, max_length=2048, description="HTTP-Redirect binding")
    idp_slo_url: str | None = Field(default=None, max_length=2048)
    idp_certificates: list[str] = Field(
        min_length=1, max_length=4, description="signing certificates (PEM), several while rotating"
    )
    metadata_url: str | None = Field(default=None, max_length=2048)
    name_id_format: str = NAMEID_EMAIL
    email_attribute: str | None = Field(
        default=None, max_length=256, description="attribute with the email; NameID when unset"
    )
    name_attribute: str | None = Field(default=None, max_length=256)
    groups_attribute: str | None = Field(default="groups", max_length=256)
    allow_idp_initiated: bool = False
    sign_requests: bool = True
    want_response_signed: bool = False

    @field_validator("idp_certificates")
    @classmethod
    def _certificates(cls, values: list[str]) -> list[str]:
        return [normalize_certificate(value) for value in values]

    @field_validator("name_id_format")
    @classmethod
    def _format(cls, value: str) -> str:
        if value not in NAMEID_FORMATS:
            raise ValueError(f"must be one of {', '.join(NAMEID_FORMATS)}")
        return value


class OidcConnection(_Stored):
    """The OpenID provider a tenant's OIDC sign-ins go to."""

    issuer: str = Field(min_length=1, max_length=2048)
    client_id: str = Field(min_length=1, max_length=512)
    scopes: list[str] = Field(default_factory=lambda: ["openid", "email", "profile"])
    email_claim: str = Field(default="email", max_length=256)
    name_claim: str = Field(default="name", max_length=256)
    groups_claim: str | None = Field(default="groups", max_length=256)
    token_auth: Literal["client_secret_basic", "client_secret_post"] = "client_secret_basic"

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be the provider's issuer URL (https://...)")
        return value.rstrip("/")

    @field_validator("scopes")
    @classmethod
    def _openid(cls, value: list[str]) -> list[str]:
        if "openid" not in value:
            raise ValueError("must include 'openid'")
        return value


class RoleMapping(_Stored):
    """Members of IdP group (or holders of claim value) `group` get `roles` in the tenant."""

    group: str = Field(min_length=1, max_length=256)
    roles: list[str] = Field(min_length=1, max_length=20)

    @field_validator("roles")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not ROLE_NAME.match(name):
                raise ValueError(f"{name!r} is not a role name")
        return sorted(set(value))


def normalize_certificate(value: str) -> str:
    """A PEM certificate (a bare base64 body is accepted), checked to parse."""
    text = value.strip()
    if "BEGIN CERTIFICATE" not in text:
        body = re.sub(r"\s+", "", text)
        text = (
            "-----BEGIN CERTIFICATE-----\n"
            + "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
            + "\n-----END CERTIFICATE-----\n"
        )
    try:
        x509.load_pem_x509_certificate(text.encode())
    except ValueError:
        raise ValueError("is not an X.509 certificate in PEM or base64 form") from None
    return text


def certificate_body(pem: str) -> str:
    """The base64 body of a PEM certificate, as SAML metadata and python3-saml take it."""
    return "".join(line for line in pem.strip().splitlines() if "-----" not in line)


def parse_idp_metadata(xml: str, entity_id: str | None = None) -> dict[str, Any]:
    """The IdP fields of SAML metadata: entity id, SSO and SLO URLs (Redirect), certificates."""
    try:
        parsed = OneLogin_Saml2_IdPMetadataParser.parse(
            xml,
            required_sso_binding=Saml.BINDING_HTTP_REDIRECT,
            required_slo_binding=Saml.BINDING_HTTP_REDIRECT,
            entity_id=entity_id,
        )
    except Exception as exc:  # noqa: BLE001 - lxml and the parser raise many kinds
        raise SsoConfigError("metadata_xml", f"is not SAML metadata: {exc}") from None
    idp = parsed.get("idp") or {}
    sso = (idp.get("singleSignOnService") or {}).get("url")
    if not idp.get("entityId") or not sso:
        raise SsoConfigError(
            "metadata_xml", "names no IdP with a SingleSignOnService on the HTTP-Redirect binding"
        )
    certs = list((idp.get("x509certMulti") or {}).get("signing") or [])
    if not certs and idp.get("x509cert"):
        certs = [idp["x509cert"]]
    if not certs:
        raise SsoConfigError("metadata_xml", "has no signing certificate")
    return {
        "idp_entity_id": idp["entityId"],
        "idp_sso_url": sso,
        "idp_slo_url": (idp.get("singleLogoutService") or {}).get("url"),
        "idp_certificates": certs,
    }


def load(session: Session) -> SsoConfig | None:
    """The session tenant's SSO configuration."""
    return session.scalars(select(SsoConfig)).one_or_none()


def saml_of(row: SsoConfig | None) -> SamlConnection | None:
    return SamlConnection.model_validate(row.saml) if row is not None and row.saml else None


def oidc_of(row: SsoConfig | None) -> OidcConnection | None:
    return OidcConnection.model_validate(row.oidc) if row is not None and row.oidc else None


def mappings_of(row: SsoConfig) -> list[RoleMapping]:
    return [RoleMapping.model_validate(item) for item in row.role_mappings]


def _aad(tenant_id: str, purpose: str) -> str:
    return f"{tenant_id}/sso/{purpose}"


def seal_client_secret(session: Session, row: SsoConfig, secret: str) -> None:
    row.oidc_secret_key_id, row.oidc_secret_ciphertext = session_keyring(session).encrypt(
        secret, _aad(row.tenant_id, "oidc_client_secret")
    )


def client_secret(session: Session, row: SsoConfig) -> str | None:
    if row.oidc_secret_key_id is None or row.oidc_secret_ciphertext is None:
        return None
    return session_keyring(session).decrypt(
        row.oidc_secret_key_id,
        row.oidc_secret_ciphertext,
        _aad(row.tenant_id, "oidc_client_secret"),
    )


def ensure_sp_key_pair(session: Session, row: SsoConfig, common_name: str) -> None:
    """Give the tenant's SAML service provider a signing key pair, once (sealed at rest)."""
    if row.sp_certificate and row.sp_key_ciphertext:
        return
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=365 * SP_CERT_YEARS))
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    row.sp_certificate = certificate.public_bytes(serialization.Encoding.PEM).decode()
    row.sp_key_key_id, row.sp_key_ciphertext = session_keyring(session).encrypt(
        pem_key, _aad(row.tenant_id, "saml_sp_key")
    )


def sp_private_key(session: Session, row: SsoConfig) -> str:
    if row.sp_key_key_id is None or row.sp_key_ciphertext is None:
        raise SsoConfigError("saml", "the service provider has no key pair yet")
    return session_keyring(session).decrypt(
        row.sp_key_key_id, row.sp_key_ciphertext, _aad(row.tenant_id, "saml_sp_key")
    )


def get_or_create(session: Session, tenant_id: str) -> tuple[SsoConfig, bool]:
    row = load(session)
    if row is not None:
        return row, False
    row = SsoConfig(
        tenant_id=tenant_id,
        role_mappings=[],
        default_roles=[],
        jit_provisioning=True,
        require_sso=False,
    )
    session.add(row)
    return row, True


def touch(row: SsoConfig) -> None:
    row.updated_at = utcnow()


def certificate_fingerprint(pem: str) -> str:
    cert = x509.load_pem_x509_certificate(pem.encode())
    return base64.b16encode(cert.fingerprint(hashes.SHA256())).decode().lower()
