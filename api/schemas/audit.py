"""The audit trail: entries as listed and exported, pages of them, a verification result."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, model_validator


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
