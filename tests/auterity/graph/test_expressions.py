from typing import Any

import pytest

from auterity.graph.expressions import (
    MAX_OUTPUT_CHARS,
    ExpressionError,
    Reference,
    evaluate,
    node_fields,
    parse_expression,
    parse_template,
    reference_position,
    referenced_names,
    render_value,
)

SCOPE: dict[str, Any] = {
    "inputs": {"n": 3, "name": "Ann", "tags": ["a", "b"]},
    "nodes": {
        "fetch": {
            "output": {"items": [1, 2, 3], "text": "urgent", "flag": False},
            "status": "succeeded",
            "error": None,
        }
    },
    "vars": {"greeting": "Hello"},
}


# --- native values and text ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ inputs.n }}", 3),
        ("{{ inputs.n * 1.5 }}", 4.5),
        ("{{ inputs.tags }}", ["a", "b"]),
        ("{{ nodes.fetch.output }}", SCOPE["nodes"]["fetch"]["output"]),
        ("{{ nodes.fetch.output.flag }}", False),
        ("{{ none }}", None),
        ("{{ {'a': [1, inputs.n]} }}", {"a": [1, 3]}),
        ("{{- inputs.n -}}", 3),
        ("{{ nodes.fetch.output.items | select('odd') }}", [1, 3]),
        ("{{ range(3) }}", [0, 1, 2]),
    ],
)
def test_a_lone_expression_yields_its_native_value(template: str, expected: Any) -> None:
    assert render_value(template, SCOPE) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("n={{ inputs.n }}", "n=3"),
        (" {{ inputs.n }}", " 3"),
        ("{{ vars.greeting }}, {{ inputs.name }}!", "Hello, Ann!"),
        ("{{ inputs.tags }}", ["a", "b"]),
        ("tags: {{ inputs.tags }}", 'tags: ["a", "b"]'),
        ("[{{ none }}] {{ true }} {{ false }}", "[] true false"),
        ("{% for t in inputs.tags %}{{ loop.index }}{{ t }}{% endfor %}", "1a2b"),
        ("{% if inputs.n > 2 %}big{% else %}small{% endif %}", "big"),
        ("no templates {here}", "no templates {here}"),
    ],
)
def test_text_around_makes_a_string(template: str, expected: Any) -> None:
    assert render_value(template, SCOPE) == expected


def test_render_value_walks_json_and_keeps_keys() -> None:
    value = {
        "{{ inputs.n }}": ["{{ inputs.n }}", {"deep": "x{{ inputs.n }}"}, 7, None, True],
        "plain": "text",
    }
    assert render_value(value, SCOPE) == {
        "{{ inputs.n }}": [3, {"deep": "x3"}, 7, None, True],
        "plain": "text",
    }


def test_keys_win_over_dict_methods() -> None:
    assert render_value("{{ nodes.fetch.output.items }}", SCOPE) == [1, 2, 3]
    assert evaluate("inputs.keys() | list", SCOPE) == ["n", "name", "tags"]


def test_evaluate_bare_expressions() -> None:
    assert evaluate("nodes.fetch.output.text == 'urgent'", SCOPE) is True
    assert evaluate("nodes.fetch.output.items | length > 2", SCOPE) is True
    assert evaluate("inputs['n'] * 2", SCOPE) == 6
    assert evaluate("inputs.missing | default('x')", SCOPE) == "x"
    assert evaluate("inputs.missing is defined", SCOPE) is False


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    ["{{ inputs.missing }}", "x {{ inputs.missing }}", "{{ [inputs.missing] }}"],
)
def test_undefined_keys_are_errors_that_name_the_key(template: str) -> None:
    with pytest.raises(ExpressionError, match="no key 'missing' .*'n', 'name', 'tags'"):
        render_value(template, SCOPE)


def test_undefined_root_is_an_error() -> None:
    with pytest.raises(ExpressionError, match="'item' is undefined"):
        evaluate("item.x", SCOPE)


@pytest.mark.parametrize(
    ("source", "message", "position"),
    [
        ("{{ inputs.n + }}", "unexpected 'end of print statement'", 14),
        ("Hi {{ inputs.n ! 2 }}", "unexpected char '!'", 15),
        ("a\n{{ x +* }}", "unexpected '\\*'", 8),
        ("{{ 'open }}", "unexpected char", 3),
        ("{% if x %}yes", "Unexpected end of template", 13),
        ("{{ x | nosuch }}", "unknown filter 'nosuch'", 5),
        ("{{ x is nosuch }}", "unknown test 'nosuch'", 5),
        ("ab {% include 'other' %}", "'include' is not available", 3),
    ],
)
def test_template_syntax_errors_carry_the_offset(source: str, message: str, position: int) -> None:
    with pytest.raises(ExpressionError, match=message) as caught:
        parse_template(source)
    assert caught.value.position == position
    assert f"at position {position}" in str(caught.value)


@pytest.mark.parametrize(
    ("source", "message", "position"),
    [
        ("inputs.n >", "unexpected 'end of template'", 10),
        ("a b", "unexpected 'b' after the expression", 2),
        ("{{ inputs.n }}", "takes no {{ }}", 0),
        ("x | random", "unknown filter 'random'", 2),
    ],
)
def test_expression_syntax_errors_carry_the_offset(
    source: str, message: str, position: int
) -> None:
    with pytest.raises(ExpressionError, match=message) as caught:
        parse_expression(source)
    assert caught.value.position == position


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("1 / 0", "ZeroDivisionError"),
        ("inputs.n + 'a'", "TypeError"),
        ("range", "not a JSON value"),
        ("inputs.tags.append(1)", "not allowed"),
    ],
)
def test_evaluation_errors(expression: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        evaluate(expression, SCOPE)


# --- sandbox and bounds -------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        "''.__class__",
        "''.__class__.__mro__[1].__subclasses__()",
        "inputs.__init__",
        "cycler.__init__.__globals__",
        "(1).__class__.__base__",
        "inputs.tags.pop()",
        "inputs.update({'a': 1})",
    ],
)
def test_sandbox_blocks_escapes_and_mutation(expression: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate(expression, SCOPE)


def test_no_randomness() -> None:
    with pytest.raises(ExpressionError, match="unknown filter 'random'"):
        render_value("{{ inputs.tags | random }}", SCOPE)
    with pytest.raises(ExpressionError, match="'lipsum' is undefined"):
        render_value("{{ lipsum() }}", SCOPE)


@pytest.mark.parametrize(
    "template",
    [
        "{{ 'x' * 10000000 }}",
        "{{ [1] * 10000000 }}",
        "{{ 'x'.ljust(100000000) }}",
        "{{ 'x' | center(100000000) }}",
        "{{ '{:>99999999}'.format(1) }}",
        "{{ '%99999999d' % 1 }}",
        "{{ ('x' * 1000000).replace('', 'yy') }}",
        "{{ 9 ** 100000000 }}",
        "{{ range(1000000) | list }}",
        "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
        "{% for i in range(10000) %}{{ 'x' * 1000 }}{% endfor %}",
        "{% set ns = namespace(s='ab') %}{% for i in range(40) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}",
    ],
)
def test_work_and_output_are_bounded(template: str) -> None:
    with pytest.raises(ExpressionError, match="too large|too much work|at most|not allowed"):
        render_value(template, SCOPE)


def test_values_up_to_the_bound_render() -> None:
    assert len(render_value("{{ 'x' * 1000 }}", SCOPE)) == 1000
    big = {"text": "x" * (MAX_OUTPUT_CHARS // 2)}
    assert render_value("{{ inputs }}", {"inputs": big}) == big


def test_results_are_plain_json() -> None:
    assert render_value("{{ (1, 2) }}", SCOPE) == [1, 2]
    assert render_value("{{ {1: 'a', none: 'b'} }}", SCOPE) == {"1": "a", "null": "b"}
    with pytest.raises(ExpressionError, match="not a JSON number"):
        evaluate("inputs.x | float", {"inputs": {"x": "nan"}})


# --- references ---------------------------------------------------------------------------


def test_referenced_names() -> None:
    template = (
        "{{ nodes.fetch.output }} {{ nodes['other'].status }} {{ secrets.token }}"
        "{% for t in inputs.tags %}{{ t }}{{ loop.index }}{% endfor %}{{ vars }}"
    )
    assert referenced_names(template) == {
        Reference("nodes", "fetch"),
        Reference("nodes", "other"),
        Reference("secrets", "token"),
        Reference("inputs", "tags"),
        Reference("vars", None),
    }
    assert referenced_names("item.x > index", expression=True) == {
        Reference("item", "x"),
        Reference("index", None),
    }
    assert referenced_names("plain text") == frozenset()
    assert referenced_names("{% set x = 1 %}{{ x }}") == frozenset()


def test_node_fields() -> None:
    template = "{{ nodes.a.output.text }} {{ nodes['b'].status }} {{ nodes.c }} {{ x.y.z }}"
    assert node_fields(template) == {("a", "output"), ("b", "status")}
    assert node_fields("nodes.a.outptu", expression=True) == {("a", "outptu")}


def test_reference_position() -> None:
    text = "Hi {{ nodes['fetch'].output }} {{ vars.a }}"
    assert reference_position(text, Reference("nodes", "fetch")) == 6
    assert reference_position(text, Reference("vars", "a")) == 34


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", "nested more than 64 levels deep"),
        ("{% if 1 %}" * 3000 + "{% endif %}" * 3000, "nested more than 64 levels deep"),
        ("{{ x" + ".a" * 30000 + " }}", "nested more than 64 levels deep|more than 5,000 tokens"),
        ("{{ " + "not " * 20000 + "1 }}", "nested more than 64 levels deep"),
        ("{{ " + " ~ ".join(["(a == b)"] * 9000) + " }}", "more than 5,000 tokens"),
    ],
    ids=["parentheses", "blocks", "attributes", "nots", "tokens"],
)
def test_what_would_crash_or_stall_the_parser_is_refused(source: str, message: str) -> None:
    """Attack: deep nesting raised RecursionError (a 500 at save); expression-dense
    templates took the API tens of seconds to validate."""
    with pytest.raises(ExpressionError, match=message):
        parse_template(source)


def test_long_prose_is_cheap_and_accepted() -> None:
    parse_template("Some prose. " * 8000 + "{{ inputs.n }}")
