"""The PromQL reader that the metrics contract relies on."""

from __future__ import annotations

from tests.operations.monitoring.promql import Selector, parse, parse_variable


def test_reads_selectors_and_skips_functions_strings_and_ranges() -> None:
    query = parse(
        "histogram_quantile(0.95, sum by (le, route) "
        '(rate(auterity_http_request_seconds_bucket{route!~"/v1/(x|y)", method="GET"}[5m])))'
    )
    assert query.selectors == [
        Selector("auterity_http_request_seconds_bucket", frozenset({"route", "method"}))
    ]
    assert query.grouping == {"le", "route"}


def test_binary_operators_offsets_and_keywords() -> None:
    query = parse(
        "sum(a_total) / (sum(b_total) or vector(0)) > 0.25 and on() c > bool 1e3 "
        "unless d offset 1h or e[6h:5m] @ end()"
    )
    assert query.metrics == {"a_total", "b_total", "c", "d", "e"}


def test_grafana_variables_and_grouping_after_the_aggregation() -> None:
    query = parse(
        'sum(rate(x_total{tenant=~"$tenant", graph=~"${graph}"}[$__rate_interval])) '
        "by (tenant) * on (tenant) group_left (graph) y"
    )
    assert query.metrics == {"x_total", "y"}
    assert query.selectors[0].labels == {"tenant", "graph"}
    assert query.grouping == {"tenant", "graph"}


def test_label_values_variable() -> None:
    query, label = parse_variable('label_values(x_total{tenant=~"$tenant"}, graph)')
    assert (query.metrics, label) == ({"x_total"}, "graph")
    assert parse_variable("up")[0].metrics == {"up"}


def test_a_label_value_with_braces_or_quotes_is_not_a_metric() -> None:
    query = parse("""count(z{path="/v1/graphs/{graph_id}", q='it\\'s'})""")
    assert query.selectors == [Selector("z", frozenset({"path", "q"}))]


def test_matchers_say_which_label_values_a_selector_accepts() -> None:
    (selector,) = parse(
        """sum(x_total{job=~"a|b-c", instance!="i:1", kind!~`l.*`, env="p\\"q"})"""
    ).selectors
    assert selector.accepts("job", "b-c")
    assert not selector.accepts("job", "b")  # anchored, as Prometheus anchors it
    assert not selector.accepts("instance", "i:1")
    assert selector.accepts("instance", "i:2")
    assert not selector.accepts("kind", "llm")
    assert selector.accepts("kind", "http")
    assert selector.accepts("env", 'p"q')
    assert selector.accepts("tenant", "any")  # no matcher on that label
