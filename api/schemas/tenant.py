"""The caller's tenant and its settings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import Body
from auterity.audit.retention import DEFAULT_RETENTION_DAYS

MIN_RETENTION_DAYS = 30
MAX_RETENTION_DAYS = 36500


class TenantSettingsRead(BaseModel):
    id: str
    slug: str
    name: str
    audit_retention_days: int = Field(
        description=f"audit entries older than this are deleted; 0 keeps everything "
        f"(default {DEFAULT_RETENTION_DAYS})"
    )
    egress_allow: list[str] = Field(
        description="non-public host names and CIDRs this tenant's http nodes and model "
        "api_bases may reach, added to the platform's AUTERITY_EGRESS_ALLOW"
    )
    sso_required: bool = Field(description="password sign-in refused (owners excepted)")
    sso_configured: bool


class TenantSettingsUpdate(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"audit_retention_days": 730},
                {"egress_allow": ["wiki.corp.example", "10.20.0.0/16"]},
                {"sso_required": True},
            ]
        },
    )

    audit_retention_days: int | None = Field(
        default=None,
        description=f"0 keeps everything; else {MIN_RETENTION_DAYS} to {MAX_RETENTION_DAYS}",
    )
    egress_allow: list[str] | None = Field(default=None, max_length=100)
    sso_required: bool | None = None
