"""Budgets: a spending limit per day or month on the tenant, one graph or one route."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator

from api.schemas import Body
from auterity.gateway.ledger import Enforcement, Period
from auterity.gateway.routes import ROUTE_NAME

MAX_LIMIT_USD = Decimal("1000000000")

Usd = Annotated[
    Decimal, PlainSerializer(lambda amount: format(amount.normalize(), "f"), return_type=str)
]
"""US dollars, exact to the nano-dollar, written out in fixed point ("0.0000005")."""


class BudgetUpdate(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"limit_usd": "25.00", "period": "daily", "enforcement": "hard"}]
        }
    )

    limit_usd: Decimal = Field(gt=0, le=MAX_LIMIT_USD, decimal_places=9)
    period: Period = Period.MONTHLY
    enforcement: Enforcement = Field(
        default=Enforcement.HARD,
        description="hard: a call that could pass the limit fails its node; warn: it runs, "
        "and its output says the budget is past its limit",
    )
    graph_id: str | None = Field(default=None, description="Only this graph's calls count")
    route: str | None = Field(default=None, description="Only this route's calls count")

    @field_validator("route")
    @classmethod
    def _route(cls, route: str | None) -> str | None:
        if route is not None and not ROUTE_NAME.match(route):
            raise ValueError("not a route name")
        return route


class BudgetCreate(BudgetUpdate):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "team-monthly", "limit_usd": "500", "period": "monthly"},
                {"name": "triage-daily", "limit_usd": "5", "period": "daily",
                 "graph_id": "g_0123456789abcdef", "enforcement": "warn"},
            ]
        }
    )  # fmt: skip

    name: str = Field(min_length=1, max_length=100)


class BudgetRead(BaseModel):
    id: str
    name: str
    limit_usd: Usd
    period: Period
    enforcement: Enforcement
    graph_id: str | None
    route: str | None
    window_start: datetime = Field(description="Start of the current day or month (UTC)")
    spent_usd: Usd = Field(description="Settled spend in the current window")
    reserved_usd: Usd = Field(description="Held by calls in flight")
    created_at: datetime
    updated_at: datetime


class BudgetList(BaseModel):
    items: list[BudgetRead]
