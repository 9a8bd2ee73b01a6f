from datetime import timedelta

import pytest
from pydantic import ValidationError

from auterity.graph.model import DurationError, Edge, Graph, Node, RetrySpec, parse_duration
from tests.auterity.graph.graphs import triage


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500ms", timedelta(milliseconds=500)),
        ("60s", timedelta(seconds=60)),
        ("5m", timedelta(minutes=5)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("3d", timedelta(days=3)),
        ("1.5s", timedelta(seconds=1.5)),
        ("2w", timedelta(weeks=2)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "60", "5 m", "-1s", "0s", "1y", "s", "1h 30m", "36501d", "2057009876.9d", "9" * 40 + "w"],
)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(DurationError, match="invalid duration"):
        parse_duration(text)


def test_the_design_example_parses() -> None:
    graph = Graph.model_validate(triage())
    assert [node.id for node in graph.nodes] == ["classify", "urgent", "approve", "notify"]
    assert graph.edges[1].source == "urgent"
    assert graph.edges[1].when == "true"
    assert graph.nodes[0].retry == RetrySpec(maximum_attempts=5)


def test_edges_serialize_with_from() -> None:
    edge = Edge.model_validate({"from": "a", "to": "b"})
    assert edge.model_dump() == {"from": "a", "to": "b", "when": None}
    assert Edge(source="a", to="b") == edge


@pytest.mark.parametrize(
    "bad",
    [
        {"id": "a", "type": "http", "colour": "red"},
        {"id": "a", "type": "http", "retry": {"max_attempts": 3}},
        {"id": "a", "type": "http", "position": {"x": 1, "y": 2, "z": 3}},
    ],
)
def test_unknown_fields_are_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Node.model_validate(bad)


@pytest.mark.parametrize("node_id", ["1a", "a-b", "a.b", "", "x" * 65, "nodes[0]"])
def test_node_ids_must_be_identifiers(node_id: str) -> None:
    with pytest.raises(ValidationError):
        Node(id=node_id, type="http")


def test_node_defaults() -> None:
    node = Node(id="_a1", type="transform")
    assert (node.config, node.on_error, node.retry, node.timeout) == ({}, "fail", None, None)


def test_timeout_must_be_a_duration() -> None:
    with pytest.raises(ValidationError, match="invalid duration '60'"):
        Node(id="a", type="http", timeout="60")


def test_retry_spec_becomes_a_temporal_retry_policy() -> None:
    spec = RetrySpec(
        initial_interval="2s",
        backoff_coefficient=3,
        maximum_interval="1m",
        maximum_attempts=4,
        non_retryable_error_types=["HttpClientError"],
    )
    policy = spec.to_retry_policy()
    assert policy.initial_interval == timedelta(seconds=2)
    assert policy.backoff_coefficient == 3
    assert policy.maximum_interval == timedelta(minutes=1)
    assert policy.maximum_attempts == 4
    assert policy.non_retryable_error_types == ["HttpClientError"]


def test_retry_spec_checks_its_intervals() -> None:
    with pytest.raises(ValidationError, match="maximum_interval must not be shorter"):
        RetrySpec(initial_interval="1m", maximum_interval="1s")
    with pytest.raises(ValidationError):
        RetrySpec(backoff_coefficient=0.5)


def test_graph_inputs_must_be_an_object_schema() -> None:
    assert Graph(name="g", nodes=[]).inputs == {"type": "object"}
    with pytest.raises(ValidationError, match="type 'object'"):
        Graph(name="g", nodes=[], inputs={"type": "string"})
