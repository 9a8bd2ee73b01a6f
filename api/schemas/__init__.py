"""Request and response bodies, one module per resource (`api.schemas.graphs`, …).

Families per resource: `XxxCreate` and `XxxUpdate` (request bodies), `XxxRead` (one
resource as the API shows it, validated from its row with `from_attributes=True`),
`XxxList` (a collection).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, ConfigDict

MAX_VERSION = 2**31 - 1
"""Version numbers are 32-bit in the database: a larger one names nothing (422, not a 500)."""
MAX_OFFSET = 100_000
# How far a list may be paged by offset: beyond it the database would scan for nothing
# (and past 2**63 it cannot even take the number). Follow a cursor or filter instead.
Offset = Annotated[
    int, Query(ge=0, le=MAX_OFFSET, description=f"Items to skip (at most {MAX_OFFSET})")
]


class Body(BaseModel):
    """A request body: unknown fields are an error, never silently ignored."""

    model_config = ConfigDict(extra="forbid")
