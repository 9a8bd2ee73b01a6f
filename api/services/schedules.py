"""Schedules are Temporal Schedules: spec, policy, state and action live there.

Every schedule id is `<tenant-slug>:sched:<short id>`; each call checks the
prefix and the tenant's row (`GraphSchedule`) before it touches Temporal, so
another tenant's id is a 404 in both places. The action starts `GraphWorkflow`
with a `GraphRunInput` built when the schedule is created or updated, so the
graph version a schedule runs is fixed then (the given one, or the current one).
Each run's workflow id is `<tenant>:<graph>:sched-<short id>-<time>` (Temporal
appends the scheduled time) and its trigger search attribute is "schedule".
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Literal

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleDescription,
    ScheduleHandle,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from api.problems import NotFound, Problem, ServiceUnavailable, Unprocessable
from auterity.graph import naming
from auterity.graph.model import DurationError, parse_duration
from auterity.graph.run import WORKFLOW_NAME, GraphRunInput

Overlap = Literal[
    "skip", "buffer_one", "buffer_all", "cancel_other", "terminate_other", "allow_all"
]
OVERLAP: dict[str, ScheduleOverlapPolicy] = {
    "skip": ScheduleOverlapPolicy.SKIP,
    "buffer_one": ScheduleOverlapPolicy.BUFFER_ONE,
    "buffer_all": ScheduleOverlapPolicy.BUFFER_ALL,
    "cancel_other": ScheduleOverlapPolicy.CANCEL_OTHER,
    "terminate_other": ScheduleOverlapPolicy.TERMINATE_OTHER,
    "allow_all": ScheduleOverlapPolicy.ALLOW_ALL,
}
OVERLAP_NAMES = {policy: name for name, policy in OVERLAP.items()}
TRIGGER = naming.Trigger.SCHEDULE
MIN_INTERVAL = timedelta(seconds=1)
CRON_SHORTHANDS = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*?/,\-#]+$")


# --- checking what a caller sends -------------------------------------------------------


def check_cron(expression: str) -> str:
    """A cron line with 5 to 7 fields, or a shorthand (`@daily`); ranges are checked by Temporal."""
    text = expression.strip()
    if text in CRON_SHORTHANDS:
        return text
    fields = text.split()
    if not 5 <= len(fields) <= 7 or not all(_CRON_FIELD.match(field) for field in fields):
        raise ValueError(
            f"{expression!r} is not a cron expression: expected 5 to 7 fields "
            "('minute hour day-of-month month day-of-week', e.g. '0 9 * * MON-FRI') or one of "
            + ", ".join(sorted(CRON_SHORTHANDS))
        )
    return text


def check_interval(text: str) -> str:
    try:
        every = parse_duration(text)
    except DurationError as error:
        raise ValueError(str(error)) from None
    if every < MIN_INTERVAL:
        raise ValueError(f"interval {text!r} is shorter than 1s")
    return text


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_time_zone(name: str) -> str:
    if name not in _time_zones():
        raise ValueError(f"{name!r} is not an IANA time zone (e.g. 'UTC', 'Europe/Paris')")
    return name


# --- building what Temporal takes ---------------------------------------------------------


def spec(cron: list[str] | None, interval: str | None, time_zone: str) -> ScheduleSpec:
    if interval is not None:
        return ScheduleSpec(
            intervals=[ScheduleIntervalSpec(every=parse_duration(interval))],
            time_zone_name=time_zone,
        )
    return ScheduleSpec(cron_expressions=list(cron or []), time_zone_name=time_zone)


def action(
    run: GraphRunInput, schedule_id: str, task_queue: str, *, started_by: str
) -> ScheduleActionStartWorkflow:
    """Start GraphWorkflow with `run`, tagged like any other execution (trigger "schedule")."""
    return ScheduleActionStartWorkflow(
        WORKFLOW_NAME,
        run,
        id=naming.scheduled_run_id(run.tenant, run.graph_id, schedule_id),
        task_queue=task_queue,
        typed_search_attributes=naming.run_attributes(
            run.tenant, run.graph_id, run.version_id, TRIGGER
        ),
        memo={"schedule_id": schedule_id, "started_by": started_by},
        static_summary=f"graph {run.graph_id} @ {run.version_id} (schedule {schedule_id})",
    )


def schedule(
    start: ScheduleActionStartWorkflow,
    when: ScheduleSpec,
    *,
    overlap: str,
    paused: bool,
    note: str,
) -> Schedule:
    return Schedule(
        action=start,
        spec=when,
        policy=SchedulePolicy(overlap=OVERLAP[overlap]),
        state=ScheduleState(note=note or None, paused=paused),
    )


# --- talking to Temporal ------------------------------------------------------------------


def rpc_problem(error: RPCError, schedule_id: str, loc: list[Any]) -> Problem:
    """What an RPC error from Temporal means to the caller."""
    if error.status == RPCStatusCode.NOT_FOUND:
        return NotFound(f"schedule '{schedule_id}' not found")
    if error.status == RPCStatusCode.INVALID_ARGUMENT:
        return Unprocessable(error.message, errors=[{"loc": loc, "msg": error.message}])
    if error.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
        return ServiceUnavailable(f"Temporal is unavailable: {error.message}")
    return Problem(f"Temporal refused the request: {error.message}", status=502)


def handle_for(client: Client, tenant_slug: str, schedule_id: str) -> ScheduleHandle:
    """A handle on one of the tenant's schedules; another tenant's id is a 404."""
    if not naming.schedule_in_tenant(schedule_id, tenant_slug):
        raise NotFound(f"schedule '{schedule_id}' not found")
    return client.get_schedule_handle(schedule_id)


async def create(
    client: Client, schedule_id: str, plan: Schedule, attributes: TypedSearchAttributes
) -> None:
    try:
        await client.create_schedule(schedule_id, plan, search_attributes=attributes)
    except RPCError as error:
        raise rpc_problem(error, schedule_id, ["body"]) from None


async def describe(handle: ScheduleHandle) -> ScheduleDescription:
    try:
        return await handle.describe()
    except RPCError as error:
        raise rpc_problem(error, handle.id, ["path", "schedule_id"]) from None


async def update(
    handle: ScheduleHandle,
    change: Callable[[Schedule], None],
    *,
    loc: list[Any],
    attributes: TypedSearchAttributes | None = None,
) -> None:
    """Apply `change` to the schedule as Temporal has it now (conflict-checked by Temporal)."""

    def updater(current: ScheduleUpdateInput) -> ScheduleUpdate:
        plan = current.description.schedule
        change(plan)
        return ScheduleUpdate(schedule=plan, search_attributes=attributes)

    try:
        await handle.update(updater)
    except RPCError as error:
        raise rpc_problem(error, handle.id, loc) from None


async def call(operation: Any, schedule_id: str, *, loc: list[Any]) -> None:
    """Await one handle operation (pause, trigger, backfill…), its RPC errors as problems."""
    try:
        await operation
    except RPCError as error:
        raise rpc_problem(error, schedule_id, loc) from None


async def run_of(client: Client, description: ScheduleDescription) -> GraphRunInput | None:
    """The `GraphRunInput` the schedule starts runs with (None if its action is not ours)."""
    start = description.schedule.action
    if not isinstance(start, ScheduleActionStartWorkflow) or start.workflow != WORKFLOW_NAME:
        return None
    if not start.args:
        return None
    [run] = await client.data_converter.decode(list(start.args), [GraphRunInput])  # type: ignore[arg-type]
    return run  # type: ignore[no-any-return]
