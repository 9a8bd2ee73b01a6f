"""Budgets over the cost ledger, and the spend report: limits are saved in nano-dollars,
shown in USD; every change is audited."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, case, func, select
from sqlalchemy.orm import Session

from api.problems import Conflict, NotFound, Unprocessable
from api.schemas.budgets import BudgetCreate, BudgetRead, BudgetUpdate
from api.schemas.spend import SpendDimension, SpendRow
from api.services import model_routes
from auterity import audit
from auterity.gateway.ledger import EntryStatus, current_window, window_start
from auterity.gateway.routes import NANOS_PER_USD
from auterity.models.base import utcnow
from auterity.models.gateway import Budget, LedgerEntry
from auterity.models.graphs import SavedGraph
from auterity.security.principal import Principal
from auterity.settings import Settings


def list_budgets(session: Session) -> list[BudgetRead]:
    rows = session.scalars(select(Budget).order_by(Budget.name))
    return [read_budget(session, row) for row in rows]


def get_budget(session: Session, budget_id: str) -> Budget:
    row = session.get(Budget, budget_id)
    if row is None:
        raise NotFound(f"budget {budget_id} not found")
    return row


def read_budget(session: Session, row: Budget) -> BudgetRead:
    now = utcnow()
    starts_at = window_start(row.period, now)
    window = current_window(session, row, now)
    return BudgetRead(
        id=row.id,
        name=row.name,
        limit_usd=_usd(row.limit_nanos),
        period=row.period,  # type: ignore[arg-type]
        enforcement=row.enforcement,  # type: ignore[arg-type]
        graph_id=row.graph_id,
        route=row.route,
        window_start=starts_at,
        spent_usd=_usd(window.spent_nanos if window else 0),
        reserved_usd=_usd(window.reserved_nanos if window else 0),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def create_budget(
    session: Session,
    settings: Settings,
    principal: Principal,
    body: BudgetCreate,
    context: audit.AuditContext,
) -> Budget:
    """Save a budget; 409 if the name is taken, 422 if its graph or route is not the tenant's."""
    if session.scalars(select(Budget.id).where(Budget.name == body.name)).first():
        raise Conflict(f"budget {body.name!r} exists")
    _check_scope(session, settings, body)
    row = Budget(name=body.name, created_by=principal.user_id, **_fields(body))
    session.add(row)
    session.flush()
    _record(session, principal, "budgets.created", row, context)
    return row


def update_budget(
    session: Session,
    settings: Settings,
    principal: Principal,
    budget_id: str,
    body: BudgetUpdate,
    context: audit.AuditContext,
) -> Budget:
    """Change a budget's limit, period, enforcement or scope; spending so far is kept."""
    row = get_budget(session, budget_id)
    _check_scope(session, settings, body)
    for name, value in _fields(body).items():
        setattr(row, name, value)
    row.updated_at = utcnow()
    session.flush()
    _record(session, principal, "budgets.updated", row, context)
    return row


def delete_budget(
    session: Session, principal: Principal, budget_id: str, context: audit.AuditContext
) -> None:
    row = get_budget(session, budget_id)
    _record(session, principal, "budgets.deleted", row, context)
    session.delete(row)
    session.flush()


def spend(
    session: Session,
    group_by: list[SpendDimension],
    since: date | None,
    until: date | None,
) -> list[SpendRow]:
    """Settled calls summed per combination of `group_by`, within [since, until] (UTC days)."""
    columns: dict[SpendDimension, Any] = {
        SpendDimension.GRAPH: LedgerEntry.graph_id,
        SpendDimension.NODE: LedgerEntry.node_id,
        SpendDimension.ROUTE: LedgerEntry.route,
        SpendDimension.MODEL: LedgerEntry.model,
        SpendDimension.DAY: func.date(LedgerEntry.settled_at),
    }
    keys = [columns[dimension].label(dimension.value) for dimension in group_by]
    unpriced = case((LedgerEntry.cost_known.is_(False), 1), else_=0)
    cached = case((LedgerEntry.cached.is_(True), 1), else_=0)
    query = select(
        *keys,
        func.count().label("calls"),
        func.coalesce(func.sum(LedgerEntry.prompt_tokens), 0).label("prompt_tokens"),
        func.coalesce(func.sum(LedgerEntry.completion_tokens), 0).label("completion_tokens"),
        func.coalesce(func.sum(LedgerEntry.cost_nanos), 0).label("cost_nanos"),
        func.sum(unpriced).cast(Integer).label("unpriced_calls"),
        func.sum(cached).cast(Integer).label("cached_calls"),
    ).where(LedgerEntry.status == EntryStatus.SETTLED)
    if since is not None:
        query = query.where(LedgerEntry.settled_at >= datetime.combine(since, time(), UTC))
    if until is not None:
        end = datetime.combine(until + timedelta(days=1), time(), UTC)
        query = query.where(LedgerEntry.settled_at < end)
    if keys:
        query = query.group_by(*keys).order_by(*keys)
    rows = session.execute(query).mappings().all()
    return [
        SpendRow(
            **{dimension.value: row[dimension.value] for dimension in group_by},
            calls=row["calls"],
            prompt_tokens=row["prompt_tokens"],
            completion_tokens=row["completion_tokens"],
            cost_usd=_usd(int(row["cost_nanos"])),
            unpriced_calls=row["unpriced_calls"] or 0,
            cached_calls=row["cached_calls"] or 0,
        )
        for row in rows
        if row["calls"]
    ]


def _fields(body: BudgetUpdate) -> dict[str, Any]:
    return {
        "limit_nanos": int(body.limit_usd * NANOS_PER_USD),
        "period": str(body.period),
        "enforcement": str(body.enforcement),
        "graph_id": body.graph_id,
        "route": body.route,
    }


def _check_scope(session: Session, settings: Settings, body: BudgetUpdate) -> None:
    errors: list[dict[str, Any]] = []
    if body.graph_id is not None and session.get(SavedGraph, body.graph_id) is None:
        errors.append({"loc": ["body", "graph_id"], "msg": f"unknown graph {body.graph_id!r}"})
    routes = model_routes.route_names(session) | set(settings.model_routes)
    if body.route is not None and body.route not in routes:
        errors.append({"loc": ["body", "route"], "msg": f"unknown route {body.route!r}"})
    if errors:
        first = errors[0]
        raise Unprocessable(f"{first['loc'][-1]}: {first['msg']}", errors=errors)


def _usd(nanos: int) -> Decimal:
    return Decimal(nanos) / NANOS_PER_USD


def _record(
    session: Session, principal: Principal, action: str, row: Budget, context: audit.AuditContext
) -> None:
    audit.record(
        session,
        principal,
        action,
        targets=[audit.Target("budget", row.id, row.name)],
        details={
            "limit_usd": str(_usd(row.limit_nanos)),
            "period": row.period,
            "enforcement": row.enforcement,
            "graph_id": row.graph_id,
            "route": row.route,
        },
        request=context,
    )
