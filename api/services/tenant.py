"""The caller's tenant: read it and change its settings (audit retention, egress allow-list,
whether SSO is required), each change on the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from api.problems import NotFound, Unprocessable
from api.schemas.tenant import (
    MAX_RETENTION_DAYS,
    MIN_RETENTION_DAYS,
    TenantSettingsRead,
    TenantSettingsUpdate,
)
from auterity import audit
from auterity.audit.retention import RETENTION_SETTING, retention_days
from auterity.egress import TENANT_ALLOW_KEY, tenant_entry_problem
from auterity.models.sso import SsoConfig
from auterity.models.tenancy import Tenant
from auterity.security.accounts import tenant_by_id
from auterity.security.principal import Principal
from auterity.security.sso import config as sso_config
from auterity.settings import Settings


def _tenant(session: Session, principal: Principal) -> Tenant:
    tenant = tenant_by_id(session, principal.tenant_id)
    if tenant is None:
        raise NotFound("tenant not found")
    return tenant


def _describe(tenant: Tenant, sso: SsoConfig | None) -> TenantSettingsRead:
    return TenantSettingsRead(
        id=tenant.id,
        slug=tenant.slug,
        name=tenant.name,
        audit_retention_days=retention_days(tenant) or 0,
        egress_allow=_allow_list(tenant),
        sso_required=bool(sso is not None and sso.require_sso),
        sso_configured=bool(sso is not None and (sso.saml or sso.oidc)),
    )


def _allow_list(tenant: Tenant) -> list[str]:
    entries = (tenant.settings or {}).get(TENANT_ALLOW_KEY, [])
    return [str(entry) for entry in entries] if isinstance(entries, list) else []


def read_tenant(session: Session, principal: Principal) -> TenantSettingsRead:
    """The caller's tenant and its settings."""
    return _describe(_tenant(session, principal), sso_config.load(session))


def update_tenant(
    session: Session,
    principal: Principal,
    settings: Settings,
    body: TenantSettingsUpdate,
    context: audit.AuditContext,
) -> TenantSettingsRead:
    """Change the settings given; every change is audited with its old and new value."""
    tenant = _tenant(session, principal)
    sso = sso_config.load(session)
    before = _describe(tenant, sso)
    values: dict[str, Any] = dict(tenant.settings or {})
    changes: dict[str, dict[str, Any]] = {}
    if body.audit_retention_days is not None:
        days = body.audit_retention_days
        if days != 0 and not MIN_RETENTION_DAYS <= days <= MAX_RETENTION_DAYS:
            raise _unprocessable(
                "audit_retention_days",
                f"must be 0 (keep everything) or {MIN_RETENTION_DAYS} to {MAX_RETENTION_DAYS} "
                f"days, not {days}",
            )
        if days != before.audit_retention_days:
            values[RETENTION_SETTING] = days
            changes["audit_retention_days"] = {"from": before.audit_retention_days, "to": days}
    if body.egress_allow is not None:
        entries = _egress_entries(body.egress_allow, settings)
        if entries != before.egress_allow:
            values[TENANT_ALLOW_KEY] = entries
            changes["egress_allow"] = {"from": before.egress_allow, "to": entries}
    if body.sso_required is not None and body.sso_required != before.sso_required:
        if body.sso_required and not before.sso_configured:
            raise _unprocessable(
                "sso_required", "needs a SAML or OIDC connection first (PUT /v1/sso/config)"
            )
        assert sso is not None  # sso_required was true, or SSO is configured
        sso.require_sso = body.sso_required
        sso.updated_at = datetime.now(UTC)
        changes["sso_required"] = {"from": before.sso_required, "to": body.sso_required}
    if changes:
        tenant.settings = values  # a new dict: the JSON column sees the change
        session.flush()
        audit.record(
            session,
            principal,
            "tenant.updated",
            targets=[audit.Target("tenant", tenant.id, tenant.slug)],
            details=changes,
            request=context,
        )
    return _describe(tenant, sso)


def _egress_entries(entries: list[str], settings: Settings) -> list[str]:
    ceiling = settings.tenant_egress_ceiling_policy
    problems = [
        (index, entry, problem)
        for index, entry in enumerate(entries)
        if (problem := tenant_entry_problem(entry, ceiling)) is not None
    ]
    if problems:
        index, entry, problem = problems[0]
        raise Unprocessable(
            f"egress_allow[{index}]: {entry!r} {problem}",
            errors=[
                {"loc": ["body", "egress_allow", i], "msg": f"{e!r} {p}"} for i, e, p in problems
            ],
        )
    return sorted({entry.strip().lower().rstrip(".") for entry in entries})


def _unprocessable(field: str, message: str) -> Unprocessable:
    return Unprocessable(f"{field}: {message}", errors=[{"loc": ["body", field], "msg": message}])
