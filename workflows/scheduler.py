"""Which nodes of a plan run next, which are skipped, and what their templates see.

Pure functions over an `ExecutionPlan` and the nodes' `NodeState`s; `GraphWorkflow`
applies them, tests call them directly.

An edge is *pending* until its source finishes, then *taken* or *dead*:

- a succeeded source takes its unlabelled edges and those whose `when` equals the
  label it emitted (`true`, a switch case, an approval outcome, …);
- a source failed under `on_error: "continue"` takes its unlabelled edges (its
  output is the error), under `on_error: "error"` only its `error` edges;
- a skipped or cancelled source takes none.

A node with `join: "all"` (every node but `merge` in `any` mode) runs once no
incoming edge is pending and at least one is taken; `join: "any"` runs as soon as
one is taken. A node whose incoming edges are all dead is skipped, which makes
its own edges dead: skipping propagates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from auterity.graph.compiler import ExecutionPlan, PlanNode
from auterity.graph.kinds import ERROR_LABEL
from auterity.graph.model import Edge
from auterity.graph.run import NodeState

EdgeState = Literal["pending", "taken", "dead"]
Readiness = Literal["wait", "run", "skip"]


def edge_state(edge: Edge, source: PlanNode, state: NodeState) -> EdgeState:
    """Whether an edge is still undecided, followed, or not followed."""
    if not state.finished:
        return "pending"
    if state.status == "succeeded":
        return "taken" if edge.when is None or edge.when == state.label else "dead"
    if state.status == "failed":
        if source.on_error == "error":
            return "taken" if edge.when == ERROR_LABEL else "dead"
        if source.on_error == "continue":
            return "taken" if edge.when is None else "dead"
    return "dead"


def readiness(plan: ExecutionPlan, node: PlanNode, states: Mapping[str, NodeState]) -> Readiness:
    """Whether a pending node waits, runs, or is skipped."""
    if not node.incoming:
        return "run"
    edges = [
        edge_state(edge, plan.nodes[edge.source], states[edge.source]) for edge in node.incoming
    ]
    if node.join == "any" and "taken" in edges:
        return "run"
    if "pending" in edges:
        return "wait"
    return "run" if "taken" in edges else "skip"


def taken_sources(
    plan: ExecutionPlan, node: PlanNode, states: Mapping[str, NodeState]
) -> list[str]:
    """The sources of a node's taken incoming edges, each once, in edge order."""
    return list(
        dict.fromkeys(
            edge.source
            for edge in node.incoming
            if edge_state(edge, plan.nodes[edge.source], states[edge.source]) == "taken"
        )
    )


@dataclass
class Steps:
    """What to do next: nodes to start and nodes to mark skipped."""

    run: list[str] = field(default_factory=list)
    skip: list[str] = field(default_factory=list)


def next_steps(plan: ExecutionPlan, states: Mapping[str, NodeState]) -> Steps:
    """One pass in topological order, so a skip is seen by the nodes after it."""
    steps = Steps()
    overlay = dict(states)
    for node_id, node in plan.nodes.items():
        if overlay[node_id].status != "pending":
            continue
        decision = readiness(plan, node, overlay)
        if decision == "run":
            steps.run.append(node_id)
        elif decision == "skip":
            steps.skip.append(node_id)
            overlay[node_id] = NodeState(status="skipped")
    return steps


def node_view(state: NodeState) -> dict[str, Any]:
    """What `nodes.<id>` holds in a template's scope."""
    return {
        "output": state.output,
        "status": state.status,
        "error": state.error.model_dump() if state.error else None,
    }


def node_scope(
    node: PlanNode,
    states: Mapping[str, NodeState],
    inputs: Mapping[str, Any],
    variables: Mapping[str, Any],
) -> dict[str, Any]:
    """The scope of a node's templates: only the inputs, vars and nodes it reads, so
    activity inputs (which are kept in the run's history) stay small."""
    return {
        "inputs": _only(inputs, node.reads_inputs),
        "vars": _only(variables, node.reads_vars),
        "nodes": {node_id: node_view(states[node_id]) for node_id in node.reads},
    }


def _only(values: Mapping[str, Any], names: list[str] | None) -> dict[str, Any]:
    if names is None:
        return dict(values)
    return {name: values[name] for name in names if name in values}


def final_nodes(plan: ExecutionPlan) -> list[str]:
    """Nodes without outgoing edges: their outputs are the run's output."""
    return [node_id for node_id, node in plan.nodes.items() if not node.outgoing]


def still_read(plan: ExecutionPlan, states: Mapping[str, NodeState]) -> set[str]:
    """Nodes whose outputs a later step may still need: read by an unfinished node,
    merged by an unfinished merge, or final."""
    needed = set(final_nodes(plan))
    for node_id, node in plan.nodes.items():
        if states[node_id].finished:
            continue
        needed.update(node.reads)
        if node.kind == "merge":
            needed.update(node.upstream)
    return needed
