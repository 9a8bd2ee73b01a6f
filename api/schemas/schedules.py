"""Schedules: what a caller sends (spec, policy, the run's graph and inputs) and a schedule
as Temporal reports it. Cron lines, intervals and time zones are checked here, so a bad
one is a 422 naming the field before anything reaches Temporal."""

from __future__ import annotations

import functools
import re
import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from api.schemas import Body
from auterity.graph.model import DurationError, parse_duration

# What happens when a run is due while the last one still runs (Temporal's overlap policies).
Overlap = Literal[
    "skip", "buffer_one", "buffer_all", "cancel_other", "terminate_other", "allow_all"
]
MIN_INTERVAL = timedelta(seconds=1)
CRON_SHORTHANDS = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*?/,\-#]+$")


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
    if len(fields) == 7 and not fields[0].isdigit():
        # 7 fields start with seconds: anything but one second would fire within a minute.
        raise ValueError(
            f"{expression!r}: the seconds field must be one number (a schedule fires at most "
            "once a minute; use interval for a shorter period, down to the minimum interval)"
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


Cron = Annotated[str, AfterValidator(check_cron)]
Interval = Annotated[str, AfterValidator(check_interval), Field(examples=["15m", "1h", "1d"])]
TimeZone = Annotated[str, AfterValidator(check_time_zone), Field(examples=["Europe/Paris"])]
CRON_DESCRIPTION = "Cron lines ('0 9 * * MON-FRI', '@daily'); the union of their times"
VERSION_DESCRIPTION = (
    "A version id or number; unset: the graph's current version when the schedule is saved"
)


class ScheduleCreate(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "weekday digest",
                    "graph_id": "gr_3f9a1c2b7d4e",
                    "inputs": {"topic": "sales"},
                    "cron": ["0 9 * * MON-FRI"],
                    "time_zone": "Europe/Paris",
                    "note": "for the sales stand-up",
                },
                {
                    "name": "queue sweep",
                    "graph_id": "gr_8b2e4d6f1a3c",
                    "version": "4",
                    "interval": "15m",
                    "overlap": "buffer_one",
                },
            ]
        }
    )

    name: str = Field(min_length=1, max_length=200, examples=["weekday digest"])
    graph_id: str = Field(min_length=1, max_length=40)
    version: str | None = Field(default=None, max_length=80, description=VERSION_DESCRIPTION)
    inputs: dict[str, Any] = Field(default_factory=dict, examples=[{"topic": "sales"}])
    cron: list[Cron] | None = Field(
        default=None, min_length=1, max_length=20, description=CRON_DESCRIPTION,
        examples=[["0 9 * * MON-FRI"]],
    )  # fmt: skip
    interval: Interval | None = Field(default=None, description="Every so long: '15m', '1h'")
    time_zone: TimeZone = "UTC"
    overlap: Overlap = Field(
        default="skip", description="What happens when a run is due while the last one runs"
    )
    paused: bool = False
    note: str = Field(default="", max_length=1000)

    @model_validator(mode="after")
    def _one_spec(self) -> ScheduleCreate:
        if (self.cron is None) == (self.interval is None):
            raise ValueError("give exactly one of cron (a list of cron lines) or interval")
        return self


class ScheduleUpdate(Body):
    """Only the fields sent change. `cron` or `interval` replaces the spec; `version: null`
    re-pins the graph's current version; a new `graph_id` runs that graph's current version."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"cron": ["0 8 * * MON-FRI"], "time_zone": "America/New_York"},
                {"interval": "1h", "overlap": "skip", "note": "hourly while the launch runs"},
                {"version": None, "inputs": {"topic": "marketing"}},
            ]
        }
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    graph_id: str | None = Field(default=None, min_length=1, max_length=40)
    version: str | None = Field(default=None, max_length=80, description=VERSION_DESCRIPTION)
    inputs: dict[str, Any] | None = None
    cron: list[Cron] | None = Field(default=None, min_length=1, max_length=20)
    interval: Interval | None = None
    time_zone: TimeZone | None = None
    overlap: Overlap | None = None
    paused: bool | None = None
    note: str | None = Field(default=None, max_length=1000)

    @field_validator(
        "name", "graph_id", "inputs", "cron", "interval", "time_zone", "overlap", "paused", "note"
    )
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may not be null: leave it out to keep it")
        return value

    @model_validator(mode="after")
    def _one_spec(self) -> ScheduleUpdate:
        if self.cron is not None and self.interval is not None:
            raise ValueError("give at most one of cron or interval")
        return self


class ScheduleNote(Body):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"note": "paused during the warehouse migration"}]}
    )

    note: str | None = Field(default=None, max_length=1000)


class ScheduleRunNow(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"overlap": "allow_all"}]})

    overlap: Overlap | None = Field(
        default=None, description="Override the schedule's overlap policy for this run"
    )


class ScheduleBackfillRequest(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "start": "2025-03-03T00:00:00+01:00",
                    "end": "2025-03-08T00:00:00+01:00",
                    "overlap": "buffer_all",
                }
            ]
        }
    )

    start: AwareDatetime = Field(description="Inclusive; with a time zone offset")
    end: AwareDatetime = Field(description="Exclusive; not in the future")
    overlap: Overlap | None = Field(
        default=None, description="Overlap policy for the backfilled runs (the schedule's if unset)"
    )

    @model_validator(mode="after")
    def _ordered(self) -> ScheduleBackfillRequest:
        if self.start >= self.end:
            raise ValueError("start must be before end")
        if self.end > datetime.now(UTC):
            raise ValueError("end is in the future: backfill covers past times (use /trigger)")
        return self


class ScheduleAction(BaseModel):
    scheduled_at: datetime
    started_at: datetime | None
    execution_id: str | None


# Built by `services.schedules.read` from the row and Temporal's description.
class ScheduleRead(BaseModel):
    id: str
    name: str
    graph_id: str
    version_id: str | None
    inputs: dict[str, Any] | None
    cron: list[str] | None
    interval: str | None
    time_zone: str
    overlap: str
    paused: bool
    note: str
    next_action_times: list[datetime]
    recent_actions: list[ScheduleAction]
    running: list[str] = Field(description="Execution ids of the schedule's runs still running")
    actions_taken: int
    created_by: str | None
    created_at: datetime
    updated_at: datetime


class ScheduleList(BaseModel):
    items: list[ScheduleRead]


class ScheduleAccepted(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"id": "acme:sched:4f2a9c1e7b3d", "status": "triggered"}]}
    )

    id: str
    status: str
