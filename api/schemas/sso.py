"""SSO configuration, discovery and the sign-in hand-off: request and response bodies.

Secrets go in (`oidc.client_secret`) and never come out: reads say whether one is set.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.schemas import Body
from auterity.security.sso.config import NAMEID_EMAIL, OidcConnection, RoleMapping, SamlConnection

MAX_METADATA_BYTES = 512 * 1024


class SamlConfigIn(Body):
    """The IdP: its metadata (XML, or an https URL fetched now), or the fields by hand."""

    metadata_xml: str | None = Field(default=None, max_length=MAX_METADATA_BYTES)
    metadata_url: str | None = Field(default=None, max_length=2048)
    idp_entity_id: str | None = Field(default=None, max_length=512)
    idp_sso_url: str | None = Field(default=None, max_length=2048)
    idp_slo_url: str | None = Field(default=None, max_length=2048)
    idp_certificates: list[str] | None = Field(default=None, max_length=4)
    name_id_format: str = NAMEID_EMAIL
    email_attribute: str | None = Field(default=None, max_length=256)
    name_attribute: str | None = Field(default=None, max_length=256)
    groups_attribute: str | None = Field(default="groups", max_length=256)
    allow_idp_initiated: bool = False
    sign_requests: bool = True
    want_response_signed: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> SamlConfigIn:
        sources = [self.metadata_xml is not None, self.metadata_url is not None,
                   self.idp_entity_id is not None]  # fmt: skip
        if sum(sources) != 1:
            raise ValueError(
                "give exactly one of metadata_xml, metadata_url, or idp_entity_id with "
                "idp_sso_url and idp_certificates"
            )
        return self


class OidcConfigIn(Body):
    issuer: str = Field(max_length=2048, description="discovery at <issuer>/.well-known/...")
    client_id: str = Field(min_length=1, max_length=512)
    client_secret: str | None = Field(
        default=None, min_length=1, max_length=2048,
        description="write-only; omit to keep the stored one",
    )  # fmt: skip
    scopes: list[str] = Field(default_factory=lambda: ["openid", "email", "profile"])
    email_claim: str = Field(default="email", max_length=256)
    name_claim: str = Field(default="name", max_length=256)
    groups_claim: str | None = Field(default="groups", max_length=256)
    token_auth: str = Field(default="client_secret_basic", pattern="^client_secret_(basic|post)$")


class RoleMappingIn(Body):
    group: str = Field(min_length=1, max_length=256, description="IdP group name or claim value")
    roles: list[str] = Field(min_length=1, max_length=20)


class SsoConfigUpdate(Body):
    """The tenant's whole SSO configuration (PUT replaces it)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "saml": {
                        "metadata_url": "https://acme.okta.com/app/exk1/sso/saml/metadata",
                        "groups_attribute": "groups",
                    },
                    "role_mappings": [
                        {"group": "Auterity Admins", "roles": ["admin"]},
                        {"group": "Engineering", "roles": ["editor"]},
                    ],
                    "default_roles": [],
                    "require_sso": True,
                },
                {
                    "oidc": {
                        "issuer": "https://login.microsoftonline.com/<tenant-id>/v2.0",
                        "client_id": "3f0a1c2b-1111-2222-3333-444455556666",
                        "client_secret": "s3cr3t-from-entra",
                    },
                    "role_mappings": [{"group": "b7d4e6a1-group-object-id", "roles": ["viewer"]}],
                },
            ]
        }
    )

    saml: SamlConfigIn | None = None
    oidc: OidcConfigIn | None = None
    role_mappings: list[RoleMappingIn] = Field(default_factory=list, max_length=200)
    default_roles: list[str] = Field(default_factory=list, max_length=20)
    jit_provisioning: bool = True
    require_sso: bool = False


class ServiceProviderRead(BaseModel):
    """What to enter at the IdP."""

    entity_id: str
    acs_url: str
    slo_url: str
    metadata_url: str
    login_url: str
    certificate: str


class SamlConfigRead(SamlConnection):
    service_provider: ServiceProviderRead


class OidcConfigRead(OidcConnection):
    client_secret_set: bool
    redirect_uri: str
    login_url: str


class ScimRead(BaseModel):
    base_url: str
    token_set: bool


class SsoConfigRead(BaseModel):
    saml: SamlConfigRead | None
    oidc: OidcConfigRead | None
    role_mappings: list[RoleMapping]
    default_roles: list[str]
    jit_provisioning: bool
    require_sso: bool
    scim: ScimRead
    updated_at: datetime | None


class DiscoverBody(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"email": "ada@acme.com"}]})

    email: str = Field(min_length=3, max_length=320)


class SignInOptionRead(BaseModel):
    tenant: str
    tenant_name: str
    protocol: str
    login_url: str


class DiscoverRead(BaseModel):
    sso: bool = Field(description="whether the email's verified domain belongs to SSO tenants")
    options: list[SignInOptionRead]


class ExchangeBody(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"code": "ash_Zt3kq0l7m2Vx"}]})

    code: str = Field(min_length=8, max_length=200)


class ScimTokenCreated(BaseModel):
    token: str = Field(description="shown once; the IdP sends it as 'Authorization: Bearer'")
    base_url: str


class SamlLogoutRead(BaseModel):
    redirect: str | None = Field(description="the IdP's logout URL for the browser, if any")
