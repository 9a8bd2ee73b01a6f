"""The template work budget: what a hostile template tries, and what it gets."""

import time
from typing import Any

import pytest

from auterity.graph.budget import MAX_STEPS, Budget
from auterity.graph.errors import ExpressionError
from auterity.graph.expressions import evaluate, render_value

ROWS = [{"id": n, "name": f"row-{n}", "tags": ["a", "b"]} for n in range(10_000)]
SCOPE: dict[str, Any] = {
    "inputs": {
        "s": "x" * 3000,
        "big": "y" * 1_000_000,
        "words": "hello world " * 80_000,
        "rows": ROWS,
        "body": {"status": "ok"},
    },
    "nodes": {},
    "vars": {},
}
NESTED = "{% for a in inputs.s %}{% for b in inputs.s %}{% endfor %}{% endfor %}done"
"""9 million iterations of nothing."""


def _refused(template: str, budget: Budget | None = None) -> tuple[str, float]:
    started = time.monotonic()
    with pytest.raises(ExpressionError) as caught:
        render_value(template, SCOPE, budget)
    return caught.value.message, time.monotonic() - started


def test_a_nested_loop_over_a_long_string_is_stopped_by_the_budget() -> None:
    """Attack: 9 million empty iterations used to render to completion."""
    message, seconds = _refused(NESTED)
    assert f"budget of {MAX_STEPS:,} steps" in message
    assert seconds < 30


LOOP = "{% for i in range(10000) %}BODY{% endfor %}done"
"""10,000 iterations: the loop alone uses 2% of the budget, so only BODY can exhaust it."""


def test_ten_thousand_iterations_alone_fit() -> None:
    assert render_value(LOOP.replace("BODY", "{{ i % 2 }}"), SCOPE).endswith("01done")


@pytest.mark.parametrize(
    "body",
    [
        "{% if inputs.big == (inputs.big ~ '') %}{% endif %}",
        "{% if 'z' in inputs.big %}{% endif %}",
        "{% set c = inputs.big[1:] %}",
        "{% set c = inputs.big.upper() %}",
        "{% set c = inputs.big.split('y') %}",
        "{% set c = inputs.big | list %}",
        "{% set c = inputs.rows | tojson %}",
        "{% set c = inputs.rows | string %}",
        "{% set c = inputs.rows | sort(attribute='name') %}",
        "{% set c = inputs.rows | map(attribute='id') | max %}",
        "{% set c = inputs.rows | select | list %}",
        "{% set c = inputs.rows == (inputs.rows + []) %}",
        "{% set c = inputs.words | urlize %}",
        "{% set c = inputs.big | wordwrap(5) %}",
        "{{ inputs.big }}",
        "x" * 50_000,
    ],
    ids=lambda body: body[:40],
)
def test_work_inside_loops_is_counted(body: str) -> None:
    """Each of these used to cost one step or none, whatever it copied, compared or built."""
    message, seconds = _refused(LOOP.replace("BODY", body))
    assert "too much work" in message or "too large" in message
    assert seconds < 30


def test_macro_calls_are_counted() -> None:
    fanout = (
        "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
        "{{ f(40) }}"
    )
    message, _ = _refused(fanout, Budget(steps=100_000))
    assert "budget of 100,000 steps" in message


@pytest.mark.parametrize(
    ("template", "complaint"),
    [
        ("{{ (['x' * 1000000] * 1000) | join | length }}", "too large"),
        ("{{ ''.join([inputs.big] * 1000) | length }}", "too large"),
        ("{{ ([inputs.big] * 1000) | string | length }}", "too large"),
        ("{{ (([inputs.big] * 2) ~ '') | length }}", "too large"),
        ("{{ ('%s' % ([inputs.big, inputs.big],)) | length }}", "too large"),
        ("{{ range(3) | batch(999999, 'y' * 999999) | list | length }}", "too large"),
        ("{{ {'a': [inputs.big, inputs.big]} | xmlattr }}", "too large"),
        ("{{ [inputs.big, inputs.big] | tojson | length }}", "too large"),
        ("{{ inputs.rows | map(attribute='tags') | sum(start=[]) | length }}", "sum adds numbers"),
        (
            "{% set ns = namespace(x=2 ** 40000) %}{% for i in range(20) %}"
            "{% set ns.x = ns.x * ns.x %}{% endfor %}",
            "too large",
        ),
        (
            "{% set x %}{% for a in inputs.s %}{{ inputs.big }}{% endfor %}{% endset %}"
            "{{ x | length }}",
            "too large",
        ),
        ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "nest deeper than"),
        (
            "{% for r in inputs.rows recursive %}{{ loop(inputs.rows) }}{% endfor %}",
            "nest deeper than|too much work",
        ),
    ],
    ids=lambda value: value[:50] if isinstance(value, str) else None,
)
def test_what_would_explode_is_refused_before_it_runs(template: str, complaint: str) -> None:
    message, seconds = _refused(template)
    assert seconds < 30
    assert any(part in message for part in complaint.split("|")), message


def test_a_deadline_stops_a_render_outside_workflow_code() -> None:
    message, seconds = _refused(NESTED, Budget(seconds=0.05))
    assert "deadline of 0.05 s" in message
    assert seconds < 10


def test_the_count_is_deterministic_and_shared_by_a_node_s_fields() -> None:
    template = "{% for r in inputs.rows[:50] %}{{ r.name | upper }},{% endfor %}"
    first, second = Budget(), Budget()
    assert render_value(template, SCOPE, first) == render_value(template, SCOPE, second)
    assert first.steps == second.steps > 50
    render_value(template, SCOPE, first)
    assert first.steps == 2 * second.steps


def test_realistic_templates_fit_the_budget_easily() -> None:
    budget = Budget()
    report = (
        "{% for r in inputs.rows[:1000] %}{{ loop.index }}. {{ r.name | title }} "
        "({{ r.tags | join(', ') }}){% if not loop.last %}\n{% endif %}{% endfor %}"
    )
    assert render_value(report, SCOPE, budget).startswith("1. Row-0 (a, b)\n2. Row-1")
    assert evaluate("inputs.rows | selectattr('id', 'odd') | map(attribute='name') | list", SCOPE)
    assert budget.steps < MAX_STEPS // 20


@pytest.mark.parametrize(
    ("template", "text"),
    [
        ("{{ inputs.body | string }}", '{"status": "ok"}'),
        ("body: {{ inputs.body }}", 'body: {"status": "ok"}'),
        ("{{ 'body: ' ~ inputs.body }}", 'body: {"status": "ok"}'),
        ("{{ [inputs.body, none, true] | join(' ') }}", '{"status": "ok"}  true'),
        ("{{ 'body: %s' % (inputs.body,) }}", 'body: {"status": "ok"}'),
        ("{{ 'body: %s' | format(inputs.body) }}", 'body: {"status": "ok"}'),
        ("{{ inputs.body | string | truncate(9) }}", '{"stat...'),
    ],
)
def test_objects_read_as_json_in_text(template: str, text: str) -> None:
    """`| string` used to give Python's repr: {'status': 'ok'}."""
    assert render_value(template, SCOPE) == text


def test_compat_budgets_keep_what_older_runs_saw() -> None:
    assert render_value("{{ inputs.body | string }}", SCOPE, Budget(compat=True)) == str(
        SCOPE["inputs"]["body"]
    )
    with pytest.raises(ExpressionError, match="too large"):
        render_value("{{ ([inputs.big] * 1000) | join | length }}", SCOPE, Budget(compat=True))
