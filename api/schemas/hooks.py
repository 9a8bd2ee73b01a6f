"""Webhook deliveries: where they go, the signature header they carry, what they start."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from auterity.settings import Settings

SIGNATURE_HEADER = "X-Auterity-Signature"
HOOK_PATH = "/v1/hooks/{trigger_id}"
HOOK_EXAMPLE: dict[str, Any] = {
    "action": "opened",
    "issue": {"number": 1347, "title": "Checkout fails with a 502", "body": "Since 09:12 UTC..."},
    "repository": {"full_name": "acme/shop"},
}


def hook_url(settings: Settings, trigger_id: str) -> str:
    """Where the trigger receives deliveries; absolute when `AUTERITY_PUBLIC_URL` is set."""
    path = HOOK_PATH.format(trigger_id=trigger_id)
    return settings.public_url.rstrip("/") + path if settings.public_url else path


class HookAccepted(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "execution_id": "acme:gr_3f9a1c2b7d4e:k2c26b46b68ffc68ff99b453c1d304134",
                    "created": True,
                }
            ]
        }
    )

    execution_id: str
    created: bool = Field(description="False when this delivery was seen before (same execution)")
