"""Request and response bodies, one module per resource (`api.schemas.graphs`, …).

Families per resource: `XxxCreate` and `XxxUpdate` (request bodies), `XxxRead` (one
resource as the API shows it, validated from its row with `from_attributes=True`),
`XxxList` (a collection).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Body(BaseModel):
    """A request body: unknown fields are an error, never silently ignored."""

    model_config = ConfigDict(extra="forbid")
