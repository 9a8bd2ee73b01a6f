"""The cost ledger and budgets: reserve the worst case before a model call, settle the real
cost after, release on failure, and let a dead worker's reservation expire.

Admission is one conditional UPDATE per budget window
(`reserved = reserved + x WHERE spent + reserved + x <= limit`): PostgreSQL re-checks the
condition on the locked row and SQLite runs writers one at a time (`BEGIN IMMEDIATE`), so
concurrent calls can never reserve past a hard budget together. Every transition of an
entry is itself a conditional UPDATE on its status, so settling or releasing twice does
nothing the second time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from auterity.db import transaction
from auterity.gateway.routes import to_usd
from auterity.gateway.store import tenant_id_of
from auterity.models.base import utcnow
from auterity.models.gateway import Budget, BudgetWindow, LedgerEntry
from auterity.security.scoping import set_tenant

log = logging.getLogger("auterity.gateway.ledger")

EXPIRED_PER_SWEEP = 100


class Period(StrEnum):
    DAILY = "daily"
    MONTHLY = "monthly"


class Enforcement(StrEnum):
    HARD = "hard"
    WARN = "warn"


class EntryStatus(StrEnum):
    RESERVED = "reserved"
    SETTLED = "settled"
    RELEASED = "released"
    EXPIRED = "expired"


class BudgetExhausted(Exception):
    """A hard budget cannot admit the call's worst case."""

    def __init__(self, budget: str, limit_nanos: int, used_nanos: int, asked_nanos: int) -> None:
        self.budget = budget
        super().__init__(
            f"budget {budget!r} is exhausted: ${to_usd(used_nanos):.6f} of "
            f"${to_usd(limit_nanos):.6f} spent or reserved, this call may cost up to "
            f"${to_usd(asked_nanos):.6f}"
        )


class UnknownTenant(Exception):
    pass


@dataclass(frozen=True)
class LedgerKey:
    """One attempt of one node of one run."""

    tenant: str
    """The tenant's slug (what workflow ids start with)."""
    workflow_id: str
    run_id: str
    node_id: str
    attempt: int


@dataclass(frozen=True)
class Reservation:
    entry_id: str
    reserved_nanos: int
    already_settled: bool = False
    """The same attempt was settled before (a redelivery): settling again charges nothing."""
    warnings: list[str] = field(default_factory=list)
    """Warn-only budgets this call takes past their limit."""


@dataclass(frozen=True)
class Settlement:
    cost_nanos: int | None
    """None: the model's price is unknown (nothing charged, `cost_known` false)."""
    prompt_tokens: int
    completion_tokens: int
    model: str | None
    deployment: str | None
    cached: bool = False


def window_start(period: str, now: datetime) -> datetime:
    """The UTC day or month `now` falls in."""
    now = now.astimezone(UTC)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day if period == Period.DAILY else day.replace(day=1)


def current_window(session: Session, budget: Budget, now: datetime) -> BudgetWindow | None:
    """The budget's window for the day or month `now` falls in (None: nothing spent yet)."""
    return session.scalars(
        select(BudgetWindow).where(
            BudgetWindow.budget_id == budget.id,
            BudgetWindow.starts_at == window_start(budget.period, now),
        )
    ).one_or_none()


class Ledger:
    """Reserve, settle and release model calls against the tenant's budgets."""

    def __init__(
        self, sessions: sessionmaker[Session], clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.sessions = sessions
        self.clock = clock

    async def reserve(
        self,
        key: LedgerKey,
        *,
        graph_id: str | None,
        route: str | None,
        nanos: int,
        ttl_seconds: float,
    ) -> Reservation:
        """Hold `nanos` on every budget the call counts against; `BudgetExhausted` naming
        the first hard budget that cannot admit it."""
        return await asyncio.to_thread(self._reserve, key, graph_id, route, nanos, ttl_seconds)

    async def settle(self, key: LedgerKey, settlement: Settlement) -> bool:
        """Charge the call's real cost and return the rest; False if already settled."""
        return await asyncio.to_thread(self._settle, key, settlement)

    async def release(self, key: LedgerKey) -> bool:
        """Return a failed call's reservation; False if there was none open."""
        return await asyncio.to_thread(self._release_key, key)

    async def record(
        self, key: LedgerKey, settlement: Settlement, *, graph_id: str | None, route: str | None
    ) -> bool:
        """A call that cost nothing to make (a cache hit), settled at once without touching
        any budget; False if the attempt already has an entry."""
        return await asyncio.to_thread(self._record, key, settlement, graph_id, route)

    # --- in a worker thread ---------------------------------------------------------------

    def _scoped(self, session: Session, tenant: str) -> str:
        tenant_id = tenant_id_of(session, tenant)
        if tenant_id is None:
            raise UnknownTenant(f"tenant {tenant!r} not found")
        set_tenant(session, tenant_id)
        return tenant_id

    def _entry(self, session: Session, key: LedgerKey) -> LedgerEntry | None:
        return session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.workflow_id == key.workflow_id,
                LedgerEntry.run_id == key.run_id,
                LedgerEntry.node_id == key.node_id,
                LedgerEntry.attempt == key.attempt,
            )
        ).one_or_none()

    def _reserve(
        self,
        key: LedgerKey,
        graph_id: str | None,
        route: str | None,
        nanos: int,
        ttl_seconds: float,
    ) -> Reservation:
        now = self.clock()
        with transaction(self.sessions) as session:
            self._scoped(session, key.tenant)
            self._expire(session, now)
            entry = self._entry(session, key)
            if entry is not None and entry.status == EntryStatus.RESERVED:
                return Reservation(entry.id, entry.reserved_nanos)
            if entry is not None and entry.status == EntryStatus.SETTLED:
                return Reservation(entry.id, 0, already_settled=True)
            self._supersede(session, key)
            windows, warnings = self._hold(session, graph_id, route, nanos, now)
            expires_at = now + timedelta(seconds=ttl_seconds)
            if entry is None:
                entry = LedgerEntry(
                    workflow_id=key.workflow_id, run_id=key.run_id, node_id=key.node_id,
                    attempt=key.attempt, graph_id=graph_id, route=route,
                    status=EntryStatus.RESERVED, reserved_nanos=nanos, cost_known=True,
                    cached=False, prompt_tokens=0, completion_tokens=0, windows=windows,
                    expires_at=expires_at, created_at=now,
                )  # fmt: skip
                session.add(entry)
            else:  # a released or expired reservation of this attempt, taken again
                entry.status = EntryStatus.RESERVED
                entry.reserved_nanos = nanos
                entry.windows = windows
                entry.expires_at = expires_at
            session.flush()
            return Reservation(entry.id, nanos, warnings=warnings)

    def _hold(
        self, session: Session, graph_id: str | None, route: str | None, nanos: int, now: datetime
    ) -> tuple[list[str], list[str]]:
        budgets = session.scalars(
            select(Budget)
            .where(or_(Budget.graph_id.is_(None), Budget.graph_id == graph_id))
            .where(or_(Budget.route.is_(None), Budget.route == route))
            .order_by(Budget.id)
        ).all()
        held: list[str] = []
        warnings: list[str] = []
        for budget in budgets:
            window = self._window(session, budget, now)
            if budget.enforcement == Enforcement.HARD:
                admitted = session.execute(  # type: ignore[attr-defined]
                    update(BudgetWindow)
                    .where(
                        BudgetWindow.id == window,
                        BudgetWindow.spent_nanos + BudgetWindow.reserved_nanos + max(nanos, 1)
                        <= budget.limit_nanos,
                    )
                    .values(reserved_nanos=BudgetWindow.reserved_nanos + nanos)
                    .execution_options(synchronize_session=False)
                ).rowcount
                if admitted != 1:
                    used = session.execute(
                        select(BudgetWindow.spent_nanos + BudgetWindow.reserved_nanos).where(
                            BudgetWindow.id == window
                        )
                    ).scalar_one()
                    raise BudgetExhausted(budget.name, budget.limit_nanos, used, nanos)
            else:
                session.execute(
                    update(BudgetWindow)
                    .where(BudgetWindow.id == window)
                    .values(reserved_nanos=BudgetWindow.reserved_nanos + nanos)
                    .execution_options(synchronize_session=False)
                )
                used = session.execute(
                    select(BudgetWindow.spent_nanos + BudgetWindow.reserved_nanos).where(
                        BudgetWindow.id == window
                    )
                ).scalar_one()
                if used > budget.limit_nanos:
                    warnings.append(
                        f"budget {budget.name!r} is past its limit: ${to_usd(used):.6f} of "
                        f"${to_usd(budget.limit_nanos):.6f}"
                    )
            held.append(window)
        return held, warnings

    def _window(self, session: Session, budget: Budget, now: datetime) -> str:
        """The id of the budget's current window, created on first use."""
        starts_at = window_start(budget.period, now)
        query = select(BudgetWindow.id).where(
            BudgetWindow.budget_id == budget.id, BudgetWindow.starts_at == starts_at
        )
        found = session.scalars(query).one_or_none()
        if found is not None:
            return found
        try:
            with session.begin_nested():
                window = BudgetWindow(
                    budget_id=budget.id, starts_at=starts_at, spent_nanos=0, reserved_nanos=0
                )
                session.add(window)
                session.flush()
                return window.id
        except IntegrityError:  # another call created it first
            return session.scalars(query).one()

    def _settle(self, key: LedgerKey, settlement: Settlement) -> bool:
        now = self.clock()
        with transaction(self.sessions) as session:
            self._scoped(session, key.tenant)
            entry = self._entry(session, key)
            if entry is None or entry.status == EntryStatus.SETTLED:
                return False
            held = entry.status == EntryStatus.RESERVED
            if not self._move(session, entry, entry.status, EntryStatus.SETTLED):
                return False
            charge = settlement.cost_nanos or 0
            for window in entry.windows:
                values = {"spent_nanos": BudgetWindow.spent_nanos + charge}
                if held:
                    values["reserved_nanos"] = BudgetWindow.reserved_nanos - entry.reserved_nanos
                session.execute(
                    update(BudgetWindow)
                    .where(BudgetWindow.id == window)
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
            session.execute(
                update(LedgerEntry)
                .where(LedgerEntry.id == entry.id)
                .values(
                    cost_nanos=settlement.cost_nanos,
                    cost_known=settlement.cost_nanos is not None,
                    prompt_tokens=settlement.prompt_tokens,
                    completion_tokens=settlement.completion_tokens,
                    model=settlement.model,
                    deployment=settlement.deployment,
                    cached=settlement.cached,
                    settled_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            return True

    def _record(
        self, key: LedgerKey, settlement: Settlement, graph_id: str | None, route: str | None
    ) -> bool:
        now = self.clock()
        with transaction(self.sessions) as session:
            self._scoped(session, key.tenant)
            if self._entry(session, key) is not None:
                return False
            session.add(
                LedgerEntry(
                    workflow_id=key.workflow_id, run_id=key.run_id, node_id=key.node_id,
                    attempt=key.attempt, graph_id=graph_id, route=route,
                    model=settlement.model, deployment=settlement.deployment,
                    status=EntryStatus.SETTLED, reserved_nanos=0,
                    cost_nanos=settlement.cost_nanos, cost_known=settlement.cost_nanos is not None,
                    cached=settlement.cached, prompt_tokens=settlement.prompt_tokens,
                    completion_tokens=settlement.completion_tokens, windows=[], expires_at=now,
                    created_at=now, settled_at=now,
                )
            )  # fmt: skip
            return True

    def _release_key(self, key: LedgerKey) -> bool:
        with transaction(self.sessions) as session:
            self._scoped(session, key.tenant)
            entry = self._entry(session, key)
            if entry is None or entry.status != EntryStatus.RESERVED:
                return False
            return self._give_back(session, entry, EntryStatus.RELEASED)

    def _expire(self, session: Session, now: datetime) -> None:
        """Give back the reservations of calls whose worker died (past `expires_at`)."""
        stale = session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.status == EntryStatus.RESERVED, LedgerEntry.expires_at < now)
            .order_by(LedgerEntry.id)
            .limit(EXPIRED_PER_SWEEP)
        ).all()
        for entry in stale:
            if self._give_back(session, entry, EntryStatus.EXPIRED):
                log.warning(
                    "ledger: reservation of %s node %s attempt %d expired",
                    entry.workflow_id, entry.node_id, entry.attempt,
                )  # fmt: skip

    def _supersede(self, session: Session, key: LedgerKey) -> None:
        """Give back what earlier attempts of this node still hold. Temporal starts an
        attempt only once the one before has failed or timed out, so an earlier attempt still
        holding is one whose worker died or that Temporal gave up on: waiting for its expiry
        would refuse its own retry budget it does not spend. If it settles after all, it is
        charged what it spent."""
        earlier = session.scalars(
            select(LedgerEntry)
            .where(
                LedgerEntry.workflow_id == key.workflow_id,
                LedgerEntry.run_id == key.run_id,
                LedgerEntry.node_id == key.node_id,
                LedgerEntry.attempt < key.attempt,
                LedgerEntry.status == EntryStatus.RESERVED,
            )
            .order_by(LedgerEntry.attempt)
        ).all()
        for entry in earlier:
            if self._give_back(session, entry, EntryStatus.EXPIRED):
                log.warning(
                    "ledger: reservation of %s node %s attempt %d given back to attempt %d",
                    entry.workflow_id, entry.node_id, entry.attempt, key.attempt,
                )  # fmt: skip

    def _give_back(self, session: Session, entry: LedgerEntry, status: EntryStatus) -> bool:
        if not self._move(session, entry, EntryStatus.RESERVED, status):
            return False
        for window in entry.windows:
            session.execute(
                update(BudgetWindow)
                .where(BudgetWindow.id == window)
                .values(reserved_nanos=BudgetWindow.reserved_nanos - entry.reserved_nanos)
                .execution_options(synchronize_session=False)
            )
        return True

    def _move(self, session: Session, entry: LedgerEntry, old: str, new: EntryStatus) -> bool:
        """Move the entry from `old` to `new` status, unless someone else moved it first."""
        moved = session.execute(  # type: ignore[attr-defined]
            update(LedgerEntry)
            .where(LedgerEntry.id == entry.id, LedgerEntry.status == old)
            .values(status=new)
            .execution_options(synchronize_session=False)
        ).rowcount
        return moved == 1
