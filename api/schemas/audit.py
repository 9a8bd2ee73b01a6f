"""The audit trail: entries as listed and exported, pages of them, a verification result."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.schemas import Body


class ActorRead(BaseModel):
    type: str
    id: str | None
    name: str | None


# Validated from `services.audit.published(entry)`: the hashed document and its hash.
class AuditEntryRead(BaseModel):
    id: str
    seq: int
    occurred_at: datetime
    actor: ActorRead
    action: str
    targets: list[dict[str, Any]]
    context: dict[str, Any]
    outcome: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


class CheckpointRead(BaseModel):
    """A signed head of the tenant's chain: keep it outside the database, send it back to
    /v1/audit/verify to prove the chain still holds that entry."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tenant_id": "6f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b",
                    "seq": 1042,
                    "hash": "9b1f0c2d" * 8,
                    "issued_at": "2026-11-30T12:00:00+00:00",
                    "key_id": "3fa85f6457174562",
                    "public_key": "a1b2c3d4" * 8,
                    "signature": "0f1e2d3c" * 16,
                }
            ]
        }
    )

    tenant_id: str = Field(max_length=36)
    seq: int = Field(ge=0, le=2**63 - 1)
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    issued_at: str = Field(max_length=64)
    key_id: str = Field(max_length=16)
    public_key: str = Field(pattern=r"^[0-9a-f]{64}$")
    signature: str = Field(pattern=r"^[0-9a-f]{128}$")


class AuditVerify(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {},
                {"checkpoints": CheckpointRead.model_config["json_schema_extra"]["examples"]},  # type: ignore[index]
            ]
        },
    )

    checkpoints: list[CheckpointRead] = Field(
        default_factory=list,
        max_length=100,
        description="Checkpoints from GET /v1/audit/checkpoint the chain must still hold",
    )


class AuditPage(BaseModel):
    items: list[AuditEntryRead]
    next_cursor: str | None


# Validated from an `audit.Verification`.
class VerificationRead(BaseModel):
    ok: bool
    entries: int
    broken_entry_id: str | None = None
    broken_seq: int | None = None
    reason: str | None = None
    last_seq: int | None = None
    last_hash: str | None = None

    @model_validator(mode="after")
    def _head_only_when_ok(self) -> VerificationRead:
        # A broken chain has no head worth reporting.
        if not self.ok:
            self.last_seq = self.last_hash = None
        return self
