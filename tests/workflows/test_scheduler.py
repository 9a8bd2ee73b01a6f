from typing import Any

import pytest

from auterity.graph.compiler import ExecutionPlan, compile_graph
from auterity.graph.model import Edge
from auterity.graph.run import NodeError, NodeState
from tests.auterity.graph.graphs import edge, graph, node
from workflows.scheduler import (
    edge_state,
    final_nodes,
    next_steps,
    node_scope,
    readiness,
    still_read,
    taken_sources,
)


def states(plan: ExecutionPlan, **given: NodeState) -> dict[str, NodeState]:
    return {node_id: given.get(node_id, NodeState()) for node_id in plan.nodes}


def done(output: Any = None, label: str | None = None) -> NodeState:
    return NodeState(status="succeeded", output=output, label=label)


FAILED = NodeState(status="failed", error=NodeError(type="X", message="boom"))


@pytest.mark.parametrize(
    ("on_error", "state", "when", "expected"),
    [
        ("fail", NodeState(status="running"), None, "pending"),
        ("fail", done(), None, "taken"),
        ("fail", done(label="true"), "true", "taken"),
        ("fail", done(label="true"), "false", "dead"),
        ("fail", done(label="true"), None, "taken"),
        ("fail", NodeState(status="skipped"), None, "dead"),
        ("fail", NodeState(status="cancelled"), None, "dead"),
        ("fail", FAILED, None, "dead"),
        ("continue", FAILED, None, "taken"),
        ("continue", FAILED, "error", "dead"),
        ("error", FAILED, "error", "taken"),
        ("error", FAILED, None, "dead"),
        ("error", done(), "error", "dead"),
    ],
)
def test_edge_state(on_error: str, state: NodeState, when: str | None, expected: str) -> None:
    error_edge = [edge("a", "b", "error")] if on_error == "error" else []
    plan = compile_graph(graph([node("a", on_error=on_error), node("b")], error_edge))
    assert edge_state(Edge(source="a", to="b", when=when), plan.nodes["a"], state) == expected


def diamond(mode: str | None = None) -> ExecutionPlan:
    join = node("d", "merge", config={"mode": mode}) if mode else node("d")
    return compile_graph(
        graph(
            [node("a"), node("b"), node("c"), join],
            [edge("a", "b"), edge("a", "c"), edge("b", "d"), edge("c", "d")],
        )
    )


def test_join_all_waits_for_every_input() -> None:
    plan = diamond()
    d = plan.nodes["d"]
    assert readiness(plan, d, states(plan, b=done(), c=NodeState(status="running"))) == "wait"
    assert readiness(plan, d, states(plan, b=done(), c=NodeState(status="skipped"))) == "run"
    skipped = NodeState(status="skipped")
    assert readiness(plan, d, states(plan, b=skipped, c=skipped)) == "skip"


def test_join_any_runs_on_the_first_input() -> None:
    plan = diamond("any")
    d = plan.nodes["d"]
    assert readiness(plan, d, states(plan, b=done(), c=NodeState(status="running"))) == "run"
    running = NodeState(status="running")
    assert readiness(plan, d, states(plan, b=NodeState(status="skipped"), c=running)) == "wait"
    assert taken_sources(plan, d, states(plan, b=done(1), c=running)) == ["b"]


def test_roots_run_first_and_skips_cascade_in_one_pass() -> None:
    plan = compile_graph(
        graph(
            [
                node("check", "condition", config={"expression": "true"}),
                node("yes"),
                node("no"),
                node("after_no"),
                node("join"),
            ],
            [
                edge("check", "yes", "true"),
                edge("check", "no", "false"),
                edge("no", "after_no"),
                edge("yes", "join"),
                edge("after_no", "join"),
            ],
        )
    )
    first = next_steps(plan, states(plan))
    assert (first.run, first.skip) == (["check"], [])
    second = next_steps(plan, states(plan, check=done(True, "true")))
    assert (second.run, second.skip) == (["yes"], ["no", "after_no"])
    third = next_steps(
        plan,
        states(
            plan,
            check=done(True, "true"),
            yes=done(),
            no=NodeState(status="skipped"),
            after_no=NodeState(status="skipped"),
        ),
    )
    assert (third.run, third.skip) == (["join"], [])


def test_node_scope_holds_only_what_the_node_reads() -> None:
    plan = compile_graph(
        graph(
            [
                node("a"),
                node("b"),
                node("c", config={"value": "{{ nodes.a.output }} {{ inputs.x }} {{ vars }}"}),
            ],
            [edge("a", "b"), edge("b", "c")],
            vars={"v": 2},
        )
    )
    inputs = {"x": 1, "unread": 2}
    scope = node_scope(plan.nodes["c"], states(plan, a=done(1), b=done(2)), inputs, {"v": 2})
    assert scope == {
        "inputs": {"x": 1},
        "vars": {"v": 2},
        "nodes": {"a": {"output": 1, "status": "succeeded", "error": None}},
    }


def test_still_read_keeps_outputs_later_nodes_need() -> None:
    plan = compile_graph(
        graph(
            [
                node("a"),
                node("b"),
                node("c", config={"value": "{{ nodes.a.output }}"}),
                node("d"),
            ],
            [edge("a", "b"), edge("b", "c"), edge("c", "d")],
        )
    )
    assert final_nodes(plan) == ["d"]
    assert still_read(plan, states(plan, a=done(), b=done())) == {"a", "d"}
    assert still_read(plan, states(plan, a=done(), b=done(), c=done())) == {"d"}
