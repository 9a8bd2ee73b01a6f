"""Budgets (`budgets:manage`): limits per day or month on the tenant, a graph or a route,
held before each model call and settled after it."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.auth import BudgetsManager
from api.deps import SessionDep, SettingsDep
from api.schemas.budgets import BudgetCreate, BudgetList, BudgetRead, BudgetUpdate
from api.services import budgets as service
from auterity import audit

router = APIRouter(prefix="/budgets", tags=["budgets"])


@router.get("")
def list_budgets(principal: BudgetsManager, session: SessionDep) -> BudgetList:
    """The tenant's budgets with what the current day or month has spent and holds."""
    return BudgetList(items=service.list_budgets(session))


@router.post("", status_code=201)
def create_budget(
    body: BudgetCreate,
    principal: BudgetsManager,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
) -> BudgetRead:
    """Save a budget; 409 if the name is taken, 422 if its graph or route is unknown."""
    row = service.create_budget(session, settings, principal, body, audit.AuditContext.of(request))
    return service.read_budget(session, row)


@router.get("/{budget_id}")
def read_budget(budget_id: str, principal: BudgetsManager, session: SessionDep) -> BudgetRead:
    """One budget and its current window."""
    return service.read_budget(session, service.get_budget(session, budget_id))


@router.put("/{budget_id}")
def update_budget(
    budget_id: str,
    body: BudgetUpdate,
    principal: BudgetsManager,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
) -> BudgetRead:
    """Replace a budget's limit, period, enforcement and scope; what was spent stays."""
    row = service.update_budget(
        session, settings, principal, budget_id, body, audit.AuditContext.of(request)
    )
    return service.read_budget(session, row)


@router.delete("/{budget_id}", status_code=204)
def delete_budget(
    budget_id: str, principal: BudgetsManager, session: SessionDep, request: Request
) -> Response:
    """Delete a budget and its windows; the ledger keeps every call."""
    service.delete_budget(session, principal, budget_id, audit.AuditContext.of(request))
    return Response(status_code=204)
