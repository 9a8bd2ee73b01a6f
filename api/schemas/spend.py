"""Spend from the cost ledger, grouped by graph, node, route, model and day."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, Field

from api.schemas.budgets import Usd


class SpendDimension(StrEnum):
    GRAPH = "graph"
    NODE = "node"
    ROUTE = "route"
    MODEL = "model"
    DAY = "day"


class SpendRow(BaseModel):
    graph: str | None = None
    node: str | None = None
    route: str | None = None
    model: str | None = None
    day: date | None = None
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: Usd = Field(description="Priced calls only")
    unpriced_calls: int = Field(description="Calls whose model has no known price (not in cost)")
    cached_calls: int


class SpendReport(BaseModel):
    tenant: str
    group_by: list[SpendDimension]
    items: list[SpendRow]
