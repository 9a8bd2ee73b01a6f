"""Email-domain discovery: where a person who typed their email signs in.

Only the email's domain is looked at, against the domains tenants have verified;
whether an account exists is never consulted, so the answer reveals nothing a
DNS look-up would not (a domain's IdP is public knowledge).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from auterity.models.sso import SsoConfig
from auterity.models.tenancy import Tenant
from auterity.security.accounts import EMAIL, email_domain, normalize_email
from auterity.security.scoping import set_tenant


@dataclass(frozen=True)
class SignInOption:
    tenant: str
    tenant_name: str
    protocol: str  # "saml" | "oidc"
    login_path: str


def sign_in_options(session: Session, email: str) -> list[SignInOption]:
    """The SSO sign-ins of the tenants that verified `email`'s domain (empty if none)."""
    email = normalize_email(email)
    if not EMAIL.match(email):
        return []
    domain = email_domain(email)
    tenants = [
        tenant
        for tenant in session.scalars(select(Tenant).order_by(Tenant.slug))
        if domain in (tenant.verified_domains or [])
    ]
    options: list[SignInOption] = []
    for tenant in tenants:
        set_tenant(session, tenant.id)
        row = session.scalars(select(SsoConfig)).one_or_none()
        if row is None:
            continue
        for protocol in ("saml", "oidc"):
            if getattr(row, protocol):
                options.append(
                    SignInOption(
                        tenant=tenant.slug,
                        tenant_name=tenant.name,
                        protocol=protocol,
                        login_path=f"/v1/sso/{protocol}/{tenant.slug}/login",
                    )
                )
    return options
