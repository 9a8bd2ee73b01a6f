"""Compilation: a valid graph becomes an `ExecutionPlan`, the input of `GraphWorkflow`.

The plan is plain JSON-serializable pydantic: per node its kind, how it runs, its
normalized config (defaults filled; templates still unrendered), retry policy,
timeout, `on_error`, execution mode, incoming and outgoing edges with their
`when` labels, the labels it may emit, and how it joins its inputs (`merge`
nodes by their mode; any other node waits for all of them). Nodes are listed in
a topological order (ties broken by the order in the graph).

`version_id` is the content hash of the normalized graph: `v_` and 24 hex digits
of the sha256 of its canonical JSON (sorted keys, no whitespace), where
normalized means configs and retry policies with defaults filled, nodes sorted
by id, edges sorted, and the builder's `position` left out - moving a node on the
canvas is not a new version, any other change is.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from datetime import timedelta
from typing import Any, Literal

from pydantic import Field
from temporalio.common import RetryPolicy

from auterity.graph.expressions import Reference, referenced_names
from auterity.graph.kinds import ERROR_LABEL, NODE_KINDS, ForeachConfig, MergeConfig, RunsAs
from auterity.graph.model import (
    VERSION_ID_PREFIX,
    Duration,
    Edge,
    ExecutionMode,
    Graph,
    GraphModel,
    Node,
    OnError,
    RetrySpec,
    parse_duration,
)
from auterity.graph.validation import check_graph, config_sources

Join = Literal["all", "any"]


class PlanNode(GraphModel):
    """One node as `GraphWorkflow` runs it."""

    id: str
    kind: str
    runs_as: RunsAs
    config: dict[str, Any] = Field(description="Normalized; templates are not rendered")
    retry: RetrySpec | None = None
    timeout: Duration | None = None
    on_error: OnError = "fail"
    execution: ExecutionMode = "activity"
    label: str | None = None
    incoming: list[Edge] = Field(default_factory=list)
    outgoing: list[Edge] = Field(default_factory=list)
    join: Join = "all"
    labels: list[str] = Field(default_factory=list, description="The when labels it can emit")
    reads: list[str] = Field(
        default_factory=list, description="The nodes its templates and expressions read"
    )
    reads_inputs: list[str] | None = Field(
        default=None, description="The inputs it reads; None means all of them"
    )
    reads_vars: list[str] | None = Field(
        default=None, description="The vars it reads; None means all of them"
    )

    @property
    def upstream(self) -> list[str]:
        """The ids of the nodes with an edge into this one, each once."""
        return list(dict.fromkeys(edge.source for edge in self.incoming))

    def timeout_delta(self) -> timedelta | None:
        return parse_duration(self.timeout) if self.timeout else None

    def retry_policy(self) -> RetryPolicy | None:
        return self.retry.to_retry_policy() if self.retry else None


class ExecutionPlan(GraphModel):
    """A compiled graph version: what `GraphWorkflow` interprets."""

    name: str
    version_id: str
    inputs: dict[str, Any] = Field(description="JSON Schema of the run's inputs")
    vars: dict[str, Any] = Field(default_factory=dict)
    nodes: dict[str, PlanNode] = Field(description="By id, in topological order")
    roots: list[str] = Field(description="Nodes without incoming edges: they start the run")


def normalize_config(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    """A valid config with every default filled, a foreach body's included."""
    node_kind = NODE_KINDS[kind]
    parsed = node_kind.parse_config(config)
    normalized = parsed.model_dump(mode="json")
    if isinstance(parsed, ForeachConfig):
        body = normalized["node"]
        body["config"] = normalize_config(body["type"], body["config"])
    return normalized


def normalized_graph(graph: Graph) -> dict[str, Any]:
    """The graph as hashed for its version id: see the module docstring."""
    document = graph.model_dump(mode="json", exclude={"nodes": {"__all__": {"position"}}})
    for node in document["nodes"]:
        node["config"] = normalize_config(node["type"], node["config"])
    document["nodes"].sort(key=lambda node: node["id"])
    document["edges"].sort(key=lambda edge: (edge["from"], edge["to"], edge["when"] or ""))
    return document


def _version_id(graph: Graph) -> str:
    canonical = json.dumps(
        normalized_graph(graph), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return VERSION_ID_PREFIX + hashlib.sha256(canonical.encode()).hexdigest()[:24]


def version_id(graph: Graph | dict[str, Any]) -> str:
    """The content hash of a valid graph; raises `GraphInvalid` for an invalid one."""
    return _version_id(check_graph(graph))


def _topological(graph: Graph) -> list[str]:
    """Kahn's order, ties broken by the position of the node in the graph."""
    position = {node.id: index for index, node in enumerate(graph.nodes)}
    waiting = {node.id: 0 for node in graph.nodes}
    successors: dict[str, list[str]] = {node.id: [] for node in graph.nodes}
    for edge in graph.edges:
        waiting[edge.to] += 1
        successors[edge.source].append(edge.to)
    ready = [(position[node], node) for node, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, node = heapq.heappop(ready)
        order.append(node)
        for target in successors[node]:
            waiting[target] -= 1
            if waiting[target] == 0:
                heapq.heappush(ready, (position[target], target))
    return order


def _references(node: Node) -> set[Reference]:
    references: set[Reference] = set()
    for source in config_sources(NODE_KINDS[node.type], node.config):
        references.update(referenced_names(source.text, expression=source.expression))
    return references


def _names_read(references: set[Reference], root: str) -> list[str] | None:
    """The names under `root` a node reads; None when it reads `root` as a whole."""
    names = {reference.name for reference in references if reference.root == root}
    if None in names:
        return None
    return sorted(name for name in names if name is not None)


def compile_graph(graph: Graph | dict[str, Any]) -> ExecutionPlan:
    """The execution plan of a graph; raises `GraphInvalid` when it does not validate."""
    parsed = check_graph(graph)
    incoming: dict[str, list[Edge]] = {node.id: [] for node in parsed.nodes}
    outgoing: dict[str, list[Edge]] = {node.id: [] for node in parsed.nodes}
    for edge in parsed.edges:
        incoming[edge.to].append(edge)
        outgoing[edge.source].append(edge)
    plan_nodes: dict[str, PlanNode] = {}
    by_id = {node.id: node for node in parsed.nodes}
    order = _topological(parsed)
    for node_id in order:
        node = by_id[node_id]
        kind = NODE_KINDS[node.type]
        config = kind.parse_config(node.config)
        references = _references(node)
        labels = set(config.labels())
        if node.on_error == "error":
            labels.add(ERROR_LABEL)
        plan_nodes[node_id] = PlanNode(
            id=node.id,
            kind=node.type,
            runs_as=kind.runs_as,
            config=normalize_config(node.type, node.config),
            retry=node.retry,
            timeout=node.timeout,
            on_error=node.on_error,
            execution=node.execution or "activity",
            label=node.label,
            incoming=incoming[node_id],
            outgoing=outgoing[node_id],
            join=config.mode if isinstance(config, MergeConfig) else "all",
            labels=sorted(labels),
            reads=[other for other in order if Reference("nodes", other) in references],
            reads_inputs=_names_read(references, "inputs"),
            reads_vars=_names_read(references, "vars"),
        )
    return ExecutionPlan(
        name=parsed.name,
        version_id=_version_id(parsed),
        inputs=parsed.inputs,
        vars=parsed.vars,
        nodes=plan_nodes,
        roots=[node_id for node_id, node in plan_nodes.items() if not node.incoming],
    )
