"""The in-workflow node kinds; they live in `auterity.graph.pure` so the `node.pure` activity
computes them the same way when their scope holds blob refs."""

from auterity.graph.pure import (
    PURE_KINDS,
    NodeFailure,
    NodeOutcome,
    case_text,
    evaluate_field,
    render_field,
    run_condition,
    run_merge,
    run_switch,
    run_transform,
)

__all__ = [
    "PURE_KINDS",
    "NodeFailure",
    "NodeOutcome",
    "case_text",
    "evaluate_field",
    "render_field",
    "run_condition",
    "run_merge",
    "run_switch",
    "run_transform",
]
