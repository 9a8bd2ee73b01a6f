"""Spend (`spend:read`): the cost ledger's settled calls, summed by graph, node, route,
model and day."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from api.auth import SpendReader
from api.deps import SessionDep
from api.problems import Unprocessable
from api.schemas.spend import SpendDimension, SpendReport
from api.services import budgets as service

router = APIRouter(prefix="/spend", tags=["budgets"])


@router.get("")
def read_spend(
    principal: SpendReader,
    session: SessionDep,
    group_by: Annotated[
        list[SpendDimension], Query(description="Repeat to group by several dimensions")
    ] = [SpendDimension.DAY],  # noqa: B006 - FastAPI copies query defaults
    since: Annotated[date | None, Query(description="First UTC day included")] = None,
    until: Annotated[date | None, Query(description="Last UTC day included")] = None,
) -> SpendReport:
    """The tenant's model spend, tokens and calls, per combination of `group_by`."""
    if since is not None and until is not None and since > until:
        raise Unprocessable(
            "since: after until",
            errors=[{"loc": ["query", "since"], "msg": "must not be after until"}],
        )
    dimensions = list(dict.fromkeys(group_by))
    return SpendReport(
        tenant=principal.tenant_slug,
        group_by=dimensions,
        items=service.spend(session, dimensions, since, until),
    )
