import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from auterity.graph.compiler import ExecutionPlan, compile_graph, normalized_graph, version_id
from auterity.graph.model import Graph
from auterity.graph.validation import GraphInvalid
from tests.auterity.graph.graphs import edge, graph, node, triage


def test_plan_of_the_design_example() -> None:
    plan = compile_graph(triage())
    assert list(plan.nodes) == ["classify", "urgent", "approve", "notify"]
    assert plan.roots == ["classify"]
    assert plan.version_id == version_id(triage())

    classify = plan.nodes["classify"]
    assert (classify.kind, classify.runs_as, classify.execution) == ("llm", "activity", "activity")
    assert classify.timeout_delta() == timedelta(seconds=60)
    policy = classify.retry_policy()
    assert policy is not None and policy.maximum_attempts == 5
    assert classify.config["prompt"] == "Classify: {{ inputs.ticket }}"  # not rendered
    assert classify.config["temperature"] is None  # defaults filled

    notify = plan.nodes["notify"]
    assert notify.upstream == ["urgent", "approve"]
    assert [(e.source, e.when) for e in notify.incoming] == [
        ("urgent", "false"),
        ("approve", "approved"),
    ]
    assert notify.join == "all"
    assert notify.config["method"] == "POST"
    assert plan.nodes["urgent"].labels == ["false", "true"]
    assert plan.nodes["approve"].labels == ["approved", "rejected"]
    assert plan.nodes["approve"].runs_as == "workflow"


def test_plan_round_trips_through_json() -> None:
    plan = compile_graph(triage())
    again = ExecutionPlan.model_validate_json(plan.model_dump_json())
    assert again == plan
    assert '"from":"classify"' in plan.model_dump_json()


def test_merge_join_and_error_labels() -> None:
    document = graph(
        [
            node("a", on_error="error"),
            node("b"),
            node("c"),
            node("join", "merge", config={"mode": "any"}),
        ],
        [edge("a", "b"), edge("a", "c", "error"), edge("b", "join"), edge("c", "join")],
    )
    plan = compile_graph(document)
    assert plan.nodes["join"].join == "any"
    assert plan.nodes["a"].labels == ["error"]
    assert [e.to for e in plan.nodes["a"].outgoing] == ["b", "c"]


def test_topological_order_keeps_graph_order_for_ties() -> None:
    document = graph(
        [node("z"), node("y"), node("x"), node("w")],
        [edge("x", "z"), edge("y", "z"), edge("w", "x")],
    )
    plan = compile_graph(document)
    assert list(plan.nodes) == ["y", "w", "x", "z"]
    assert plan.roots == ["y", "w"]


def test_foreach_body_config_is_normalized() -> None:
    body = {"type": "http", "config": {"url": "https://x/{{ item }}"}, "timeout": "5s"}
    plan = compile_graph(
        graph([node("each", "foreach", config={"items": "[1]", "node": body})], [])
    )
    config = plan.nodes["each"].config
    assert config["concurrency"] == 10 and config["batch_size"] == 200
    assert config["node"]["config"]["method"] == "GET"
    assert config["node"]["timeout"] == "5s"


def test_invalid_graphs_do_not_compile() -> None:
    with pytest.raises(GraphInvalid) as caught:
        compile_graph(graph([node("a", "nope")], []))
    assert caught.value.issues[0].field == "type"
    with pytest.raises(GraphInvalid):
        version_id({"name": "x"})


# --- version ids --------------------------------------------------------------------------


def test_version_id_shape() -> None:
    assert re.fullmatch(r"v_[0-9a-f]{24}", version_id(triage()))


def test_same_graph_same_version() -> None:
    reordered = triage()
    reordered["nodes"].reverse()
    reordered["edges"].reverse()
    assert version_id(reordered) == version_id(triage())
    assert version_id(Graph.model_validate(triage())) == version_id(triage())


def test_filled_defaults_do_not_change_the_version() -> None:
    explicit = triage()
    explicit["nodes"][3]["config"]["headers"] = {}
    explicit["nodes"][0]["on_error"] = "fail"
    explicit["nodes"][0]["retry"]["backoff_coefficient"] = 2.0
    explicit["inputs"] = dict(explicit["inputs"])
    assert version_id(explicit) == version_id(triage())


def test_layout_does_not_change_the_version() -> None:
    moved = triage()
    for index, item in enumerate(moved["nodes"]):
        item["position"] = {"x": index * 100, "y": 0}
    assert version_id(moved) == version_id(triage())
    assert "position" not in json.dumps(normalized_graph(Graph.model_validate(moved)))


@pytest.mark.parametrize(
    "change",
    [
        lambda g: g["nodes"][0]["config"].update(prompt="Classify!: {{ inputs.ticket }}"),
        lambda g: g["nodes"][0].update(timeout="61s"),
        lambda g: g["nodes"][0]["retry"].update(maximum_attempts=6),
        lambda g: g["nodes"][3].update(on_error="continue"),
        lambda g: g["nodes"][3].update(label="Notify"),
        lambda g: g["edges"][2].update(when="true"),
        lambda g: g["edges"].pop(),
        lambda g: g.update(vars={"a": 1}),
        lambda g: g.update(name="triage-2"),
        lambda g: g["inputs"]["properties"].update(extra={"type": "string"}),
    ],
)
def test_any_change_is_a_new_version(change: Callable[[dict[str, Any]], object]) -> None:
    changed = triage()
    change(changed)
    assert version_id(changed) != version_id(triage())
