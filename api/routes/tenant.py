"""The caller's tenant and its settings: audit retention, egress allow-list, SSO required."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.auth import CurrentPrincipal, TenantManager
from api.deps import SessionDep, SettingsDep
from api.schemas.tenant import TenantSettingsRead, TenantSettingsUpdate
from api.services import tenant as service
from auterity.audit import AuditContext

router = APIRouter(prefix="/tenant", tags=["tenant"])


@router.get("")
def read_tenant(principal: CurrentPrincipal, session: SessionDep) -> TenantSettingsRead:
    """The caller's tenant and its settings."""
    return service.read_tenant(session, principal)


@router.patch("", responses={403: {}, 422: {}})
def update_tenant(
    body: TenantSettingsUpdate,
    principal: TenantManager,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
) -> TenantSettingsRead:
    """Change the tenant's settings; each change is audited."""
    return service.update_tenant(session, principal, settings, body, AuditContext.of(request))
