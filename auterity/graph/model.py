"""The graph a user draws, as pydantic models (the React Flow nodes-and-edges shape).

A `Graph` is the JSON a builder produces: graph-level `inputs` (a JSON Schema) and
`vars`, a list of `Node`s and a list of `Edge`s. Every model forbids unknown fields,
so a typo is an error rather than a silently ignored setting.

The models check shape only. What needs the whole graph (known kinds, per-kind
configs, edges pointing at real nodes, cycles, expressions) is checked by
`auterity.graph.validation.validate_graph`.

Durations are strings of one or more `<number><unit>` parts, unit one of `ms`, `s`,
`m`, `h`, `d`, `w`: `"500ms"`, `"60s"`, `"5m"`, `"1h30m"`, `"3d"`. `parse_duration`
turns one into a `timedelta`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from temporalio.common import RetryPolicy

NODE_ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
"""Node ids are identifiers, so expressions can say `nodes.<id>`."""

VERSION_ID_PREFIX = "v_"
VERSION_ID_PATTERN = r"^v_[0-9a-f]{24}$"
"""A graph version id: `v_` and 24 hex digits of the normalized graph's sha256."""

MAX_NODES = 1000
MAX_EDGES = 5000

OnError = Literal["fail", "continue", "error"]
"""`fail` fails the run, `continue` goes on with the error as output, `error` follows
edges labelled `when: "error"`."""

ExecutionMode = Literal["activity", "local"]
"""`local` runs the node as a Temporal local activity (short http/llm steps only)."""

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_DURATION = re.compile(rf"^(?:{_DURATION_PART.pattern})+$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


MAX_DURATION = timedelta(days=36500)
"""The longest duration anything takes (about a century): longer is a typo or an attack."""


class DurationError(ValueError):
    """A duration string that is not `<number><unit>[...]`, not positive, or above a century."""

    def __init__(self, text: object, reason: str | None = None) -> None:
        super().__init__(
            f"invalid duration {text!r}: "
            + (reason or "expected a positive duration like '500ms', '30s', '5m', '1h30m', '3d'")
        )


def parse_duration(text: str) -> timedelta:
    """`"1h30m"` → `timedelta(hours=1, minutes=30)`; raises `DurationError`."""
    if not isinstance(text, str) or not _DURATION.match(text):
        raise DurationError(text)
    seconds = sum(
        float(number) * _UNIT_SECONDS[unit] for number, unit in _DURATION_PART.findall(text)
    )
    if seconds <= 0:
        raise DurationError(text)
    if seconds > MAX_DURATION.total_seconds():
        raise DurationError(text, f"longer than {MAX_DURATION.days} days")
    return timedelta(seconds=seconds)


def _check_duration(text: str) -> str:
    parse_duration(text)
    return text


Duration = Annotated[
    str,
    AfterValidator(_check_duration),
    Field(json_schema_extra={"pattern": _DURATION.pattern}, examples=["30s", "5m", "3d"]),
]
"""A positive duration string such as `"60s"`; kept as written, parsed on use."""


class GraphModel(BaseModel):
    """Base of every graph model: unknown fields are rejected, aliases are the JSON names."""

    model_config = ConfigDict(
        extra="forbid",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


class RetrySpec(GraphModel):
    """A node's retry policy: the fields of Temporal's `RetryPolicy`."""

    initial_interval: Duration = "1s"
    backoff_coefficient: float = Field(default=2.0, ge=1.0)
    maximum_interval: Duration | None = Field(
        default=None, description="Defaults to 100 × initial_interval"
    )
    maximum_attempts: int = Field(default=0, ge=0, description="0 means no limit")
    non_retryable_error_types: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _interval_order(self) -> RetrySpec:
        if self.maximum_interval is not None and parse_duration(
            self.maximum_interval
        ) < parse_duration(self.initial_interval):
            raise ValueError("maximum_interval must not be shorter than initial_interval")
        return self

    def to_retry_policy(self) -> RetryPolicy:
        """The Temporal retry policy this spec describes."""
        return RetryPolicy(
            initial_interval=parse_duration(self.initial_interval),
            backoff_coefficient=self.backoff_coefficient,
            maximum_interval=(
                parse_duration(self.maximum_interval) if self.maximum_interval else None
            ),
            maximum_attempts=self.maximum_attempts,
            non_retryable_error_types=list(self.non_retryable_error_types) or None,
        )


class Position(GraphModel):
    """Where the builder draws a node; layout only, not part of the version id."""

    x: float
    y: float


class Node(GraphModel):
    """One step of the graph. `config` is checked against the model of its `type`."""

    id: str = Field(pattern=NODE_ID_PATTERN, description="Referenced as nodes.<id>")
    type: str = Field(min_length=1, description="The node kind, e.g. http, llm, condition")
    config: dict[str, Any] = Field(default_factory=dict)
    retry: RetrySpec | None = None
    timeout: Duration | None = Field(
        default=None, description="How long one attempt may take (start-to-close)"
    )
    on_error: OnError = "fail"
    execution: ExecutionMode | None = Field(
        default=None, description="'local' runs an http/llm node as a local activity"
    )
    label: str | None = Field(default=None, max_length=200)
    position: Position | None = None


class Edge(GraphModel):
    """`from` → `to`, taken when the source emits `when` (any success when unset)."""

    source: str = Field(alias="from", min_length=1)
    to: str = Field(min_length=1)
    when: str | None = Field(default=None, min_length=1)


class Graph(GraphModel):
    """A workflow graph as the builder saves it."""

    name: str = Field(min_length=1, max_length=200)
    description: str | None = None
    inputs: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object"},
        description="JSON Schema of the run's inputs",
    )
    vars: dict[str, Any] = Field(default_factory=dict, description="Constants, as vars.<name>")
    nodes: list[Node] = Field(max_length=MAX_NODES)
    edges: list[Edge] = Field(default_factory=list, max_length=MAX_EDGES)

    @field_validator("inputs")
    @classmethod
    def _inputs_is_object_schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        kind = schema.get("type", "object")
        if kind != "object":
            raise ValueError(f"inputs must be a JSON Schema of type 'object', not {kind!r}")
        return schema
