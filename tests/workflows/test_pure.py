from typing import Any

import pytest

from workflows.pure import (
    NodeFailure,
    case_text,
    run_condition,
    run_merge,
    run_switch,
    run_transform,
)

SCOPE: dict[str, Any] = {"inputs": {"n": 3, "kind": "bug"}, "nodes": {}, "vars": {}}


def test_transform_value_and_expression() -> None:
    assert run_transform({"value": {"double": "{{ inputs.n * 2 }}"}}, SCOPE).output == {"double": 6}
    assert run_transform({"expression": "inputs.n + 1"}, SCOPE).output == 4
    assert run_transform({"value": None}, SCOPE).output is None


def test_condition_emits_true_or_false() -> None:
    outcome = run_condition({"expression": "inputs.n > 2"}, SCOPE)
    assert (outcome.output, outcome.label) == (True, "true")
    outcome = run_condition({"expression": "inputs.kind == 'x'"}, SCOPE)
    assert (outcome.output, outcome.label) == (False, "false")


def test_switch_picks_a_case_or_default() -> None:
    config = {"expression": "inputs.kind", "cases": ["bug", "3"]}
    assert run_switch(config, SCOPE).label == "bug"
    assert run_switch({**config, "expression": "inputs.n"}, SCOPE).label == "3"
    assert run_switch({**config, "expression": "'other'"}, SCOPE).label == "default"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("a", "a"),
        (3, "3"),
        (1.5, "1.5"),
        (True, "true"),
        (None, "null"),
        ({"b": 1, "a": 2}, '{"a": 2, "b": 1}'),
    ],
)
def test_case_text(value: Any, text: str) -> None:
    assert case_text(value) == text


def test_merge_collects_outputs() -> None:
    assert run_merge({"a": 1, "b": [2]}).output == {"a": 1, "b": [2]}


@pytest.mark.parametrize(
    ("run", "config", "field"),
    [
        (run_transform, {"value": "{{ inputs.missing }}"}, "config.value"),
        (run_transform, {"expression": "1 / 0"}, "config.expression"),
        (run_condition, {"expression": "inputs.missing"}, "config.expression"),
        (run_switch, {"expression": "nodes.x.output", "cases": ["a"]}, "config.expression"),
    ],
)
def test_evaluation_errors_name_the_field(run: Any, config: dict[str, Any], field: str) -> None:
    with pytest.raises(NodeFailure) as caught:
        run(config, SCOPE)
    assert caught.value.type == "ExpressionError"
    assert caught.value.message.startswith(f"{field}: ")
