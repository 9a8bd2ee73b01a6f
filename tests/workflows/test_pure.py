from typing import Any

import pytest

from auterity.graph.expressions import Budget
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
    assert run_transform({"value": {"double": "{{ inputs.n * 2 }}"}}, SCOPE, Budget()).output == {
        "double": 6
    }
    assert run_transform({"expression": "inputs.n + 1"}, SCOPE, Budget()).output == 4
    assert run_transform({"value": None}, SCOPE, Budget()).output is None


def test_condition_emits_true_or_false() -> None:
    outcome = run_condition({"expression": "inputs.n > 2"}, SCOPE, Budget())
    assert (outcome.output, outcome.label) == (True, "true")
    outcome = run_condition({"expression": "inputs.kind == 'x'"}, SCOPE, Budget())
    assert (outcome.output, outcome.label) == (False, "false")


def test_switch_picks_a_case_or_default() -> None:
    config = {"expression": "inputs.kind", "cases": ["bug", "3"]}
    assert run_switch(config, SCOPE, Budget()).label == "bug"
    assert run_switch({**config, "expression": "inputs.n"}, SCOPE, Budget()).label == "3"
    assert run_switch({**config, "expression": "'other'"}, SCOPE, Budget()).label == "default"


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
        run(config, SCOPE, Budget())
    assert caught.value.type == "ExpressionError"
    assert caught.value.message.startswith(f"{field}: ")


NINE_MILLION = "{% for a in inputs.s %}{% for b in inputs.s %}{% endfor %}{% endfor %}done"
"""A nested loop over a 3,000-character string: 9 million iterations, no output."""


def test_a_nested_loop_over_a_long_string_runs_out_of_budget() -> None:
    """Attack: before the budget counted loop iterations this rendered to completion."""
    scope = {**SCOPE, "inputs": {"s": "x" * 3000}}
    with pytest.raises(NodeFailure) as caught:
        run_transform({"value": NINE_MILLION}, scope, Budget())
    assert caught.value.type == "ExpressionError"
    assert caught.value.message.startswith("config.value: ")
    assert "budget of 1,000,000 steps" in caught.value.message


def test_objects_in_text_are_json_and_compat_runs_keep_python_text() -> None:
    scope = {**SCOPE, "inputs": {"body": {"status": "ok"}, "flags": [True, None]}}
    config = {"value": "{{ inputs.body | string }} {{ inputs.flags ~ '' }}"}
    assert run_transform(config, scope, Budget()).output == '{"status": "ok"} [true, null]'
    assert (
        run_transform(config, scope, Budget(compat=True)).output == "{'status': 'ok'} [True, None]"
    )
