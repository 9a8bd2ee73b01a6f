"""The node kinds that run inside workflow code: transform, condition, switch, merge.

Each takes a node's config, its template scope and the node's template work
budget, and returns a `NodeOutcome` (output and emitted label), or raises
`NodeFailure`. An expression error (a budget overrun included) names the config
field (`config.expression: …`) and is not retryable: the same expression over
the same scope fails the same way, since the budget counts steps, not time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from auterity.graph.errors import ErrorType
from auterity.graph.expressions import Budget, ExpressionError, evaluate, render_value
from auterity.graph.kinds import DEFAULT_LABEL, ConditionConfig, SwitchConfig, TransformConfig


@dataclass
class NodeOutcome:
    """A node's successful result."""

    output: Any = None
    label: str | None = None
    attempts: int | None = 1


class NodeFailure(Exception):
    """A node failed; `type` is the failure's kind (`ExpressionError`, `HttpClientError`, …)."""

    def __init__(
        self, type: str, message: str, details: Any = None, attempts: int | None = None
    ) -> None:
        super().__init__(message)
        self.type = type
        self.message = message
        self.details = details
        self.attempts = attempts


def evaluate_field(field: str, expression: str, scope: Mapping[str, Any], budget: Budget) -> Any:
    """`evaluate`, with an error naming the field."""
    try:
        return evaluate(expression, scope, budget)
    except ExpressionError as error:
        raise NodeFailure(ErrorType.EXPRESSION_ERROR, f"{field}: {error}") from None


def render_field(field: str, value: Any, scope: Mapping[str, Any], budget: Budget) -> Any:
    """`render_value`, with an error naming the field."""
    try:
        return render_value(value, scope, budget)
    except ExpressionError as error:
        raise NodeFailure(ErrorType.EXPRESSION_ERROR, f"{field}: {error}") from None


def render_fields(
    fields: Mapping[str, Any], scope: Mapping[str, Any], budget: Budget
) -> dict[str, Any]:
    """Each of a node's config fields rendered, errors naming `config.<field>`; one budget."""
    return {
        name: render_field(f"config.{name}", value, scope, budget) for name, value in fields.items()
    }


RENDER = "render"
"""The `node.pure` kind that renders config fields (`render_fields`) for a node the
workflow runs itself (approval, wait) when their scope holds blob refs."""
CONCAT = "concat"
"""The `node.pure` kind that joins the lists in `scope["lists"]` into one, in order: a large
foreach's batch results, some of them stored, so the whole list never enters history."""
ITEMS = "items"
"""The `node.pure` kind that evaluates a foreach's `config.items` to its list (`run_items`)
when the scope holds blob refs, so a large list is stored rather than read into the run."""


def case_text(value: Any) -> str:
    """How a switch value is compared with the cases."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True)


def run_transform(
    config: Mapping[str, Any], scope: Mapping[str, Any], budget: Budget
) -> NodeOutcome:
    parsed = TransformConfig.model_validate(config)
    if parsed.expression is not None:
        return NodeOutcome(evaluate_field("config.expression", parsed.expression, scope, budget))
    return NodeOutcome(render_field("config.value", parsed.value, scope, budget))


def run_condition(
    config: Mapping[str, Any], scope: Mapping[str, Any], budget: Budget
) -> NodeOutcome:
    parsed = ConditionConfig.model_validate(config)
    value = evaluate_field("config.expression", parsed.expression, scope, budget)
    truth = bool(value)
    return NodeOutcome(truth, "true" if truth else "false")


def run_switch(config: Mapping[str, Any], scope: Mapping[str, Any], budget: Budget) -> NodeOutcome:
    parsed = SwitchConfig.model_validate(config)
    value = evaluate_field("config.expression", parsed.expression, scope, budget)
    text = case_text(value)
    return NodeOutcome(value, text if text in parsed.cases else DEFAULT_LABEL)


def run_items(config: Mapping[str, Any], scope: Mapping[str, Any], budget: Budget) -> NodeOutcome:
    """A foreach's items: `config.items` evaluated, which must give a list."""
    items = evaluate_field("config.items", config["items"], scope, budget)
    if not isinstance(items, list):
        raise NodeFailure(
            ErrorType.EXPRESSION_ERROR, f"config.items: gave {type(items).__name__}, not a list"
        )
    return NodeOutcome(items)


PURE_KINDS: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any], Budget], NodeOutcome]] = {
    "transform": run_transform,
    "condition": run_condition,
    "switch": run_switch,
}
"""The in-workflow kinds computed from config and scope (merge reads node states)."""


def compute(
    kind: str, config: Mapping[str, Any], scope: Mapping[str, Any], budget: Budget
) -> NodeOutcome:
    """What `node.pure` computes for `kind`: a pure node kind, `RENDER`, `CONCAT` or `ITEMS`."""
    if kind == ITEMS:
        return run_items(config, scope, budget)
    if kind == RENDER:
        return NodeOutcome(render_fields(config, scope, budget))
    if kind == CONCAT:
        return NodeOutcome([item for part in scope["lists"] for item in part])
    return PURE_KINDS[kind](config, scope, budget)


def run_merge(outputs: Mapping[str, Any]) -> NodeOutcome:
    """A merge's output: the outputs of the branches it joined, by node id."""
    return NodeOutcome(dict(outputs))
