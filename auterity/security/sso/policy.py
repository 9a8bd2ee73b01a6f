"""Whether a tenant's members may still sign in with a password.

A tenant that requires SSO refuses password logins of its members, except its
owners: the break-glass way in when the IdP is down or misconfigured, audited
every time it is used.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from auterity.models.sso import SsoConfig
from auterity.models.tenancy import Tenant, User
from auterity.security.accounts import membership_of
from auterity.security.permissions import OWNER
from auterity.security.scoping import set_tenant

PasswordVerdict = Literal["allowed", "break_glass", "sso_required"]


def password_verdict(session: Session, tenant: Tenant, user: User) -> PasswordVerdict:
    """May `user` sign in to `tenant` with a password (scopes `session` to the tenant)?"""
    set_tenant(session, tenant.id)
    row = session.scalars(select(SsoConfig)).one_or_none()
    if row is None or not row.require_sso or not (row.saml or row.oidc):
        return "allowed"
    membership = membership_of(session, user.id)
    if membership is not None and OWNER in membership.roles:
        return "break_glass"
    return "sso_required"
