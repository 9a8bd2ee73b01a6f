"""Graph validation: every problem with a graph, each naming its node, field and position.

`validate_graph` returns a list of `GraphIssue`s (empty when the graph is valid);
`GraphInvalid` carries them as an exception. It rejects, in this order:

- a malformed shape (the pydantic models of `auterity.graph.model`), and stops there;
- duplicate node ids, unknown node kinds, configs their kind's model rejects,
  `execution: "local"` on kinds that cannot run as local activities;
- edges from or to unknown nodes, duplicate edges, `when` labels the source node
  cannot emit, `on_error: "error"` without an `error` edge;
- cycles (naming the nodes), a graph without a start node, unreachable nodes;
- template and expression syntax errors (with the character offset);
- what the sandbox would refuse at run time (`auterity.graph.unsafe`: `_` and
  internal attributes, mutating calls, format strings reading attributes);
- secrets anywhere but whole, in a field that sends credentials
  (`auterity.graph.credentials`);
- references to unknown scope names, to nodes that are not upstream, to
  `item`/`index` outside a foreach body, to undeclared vars or inputs, and -
  when the known sets are given - to unknown secrets or model routes.

`field` is a dotted path inside the node (`config.json.text`,
`config.messages[0].content`), or inside the graph for issues without a node
(`edges[2].to`, `name`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from auterity.graph import credentials, unsafe
from auterity.graph.expressions import (
    SCOPE_ROOTS,
    ExpressionError,
    Reference,
    is_template,
    node_fields,
    parse_expression,
    parse_template,
    reference_position,
    referenced_names,
)
from auterity.graph.kinds import (
    ERROR_LABEL,
    NODE_KINDS,
    ForeachConfig,
    KindConfig,
    LlmConfig,
    NodeKind,
)
from auterity.graph.model import Edge, Graph, Node

NODE_STATE_FIELDS = ("output", "status", "error")
"""What `nodes.<id>` holds in scope."""


class GraphIssue(BaseModel):
    """One problem with a graph."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    node: str | None = None
    field: str
    message: str
    position: int | None = None

    def __str__(self) -> str:
        where = f"node {self.node!r}, {self.field}" if self.node else self.field
        at = f" at position {self.position}" if self.position is not None else ""
        return f"{where}{at}: {self.message}"


class GraphInvalid(Exception):
    """A graph that does not validate; `issues` says every way it does not."""

    def __init__(self, issues: Sequence[GraphIssue]) -> None:
        self.issues = list(issues)
        shown = "; ".join(str(issue) for issue in self.issues[:3])
        more = f" (and {len(self.issues) - 3} more)" if len(self.issues) > 3 else ""
        super().__init__(f"invalid graph: {shown}{more}")


# --- paths and pydantic errors ------------------------------------------------------------

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def join_path(prefix: str, *parts: str | int) -> str:
    """`join_path("config", "messages", 0, "content")` → `config.messages[0].content`."""
    path = prefix
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _IDENTIFIER.match(part):
            path += f".{part}" if path else part
        else:
            path += f"[{part!r}]"
    return path


def _error_message(error: Mapping[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        return f"unknown field {error['loc'][-1]!r}"
    if error["type"] == "missing":
        return "required"
    if error["type"] == "string_pattern_mismatch" and error["loc"][-1] == "id":
        return (
            "a node id is letters, digits and '_', not starting with a digit, at most 64 characters"
        )
    message = str(error["msg"])
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _pydantic_issues(
    error: ValidationError, *, node: str | None, prefix: str
) -> Iterator[GraphIssue]:
    for detail in error.errors():
        yield GraphIssue(
            node=node, field=join_path(prefix, *detail["loc"]), message=_error_message(detail)
        )


def _shape_issues(error: ValidationError, raw: Mapping[str, Any]) -> list[GraphIssue]:
    """Maps errors of the Graph model onto node ids where the node has a readable id."""
    issues = []
    raw_nodes = raw.get("nodes")
    for detail in error.errors():
        loc = detail["loc"]
        node_id: str | None = None
        if len(loc) >= 2 and loc[0] == "nodes" and isinstance(loc[1], int):
            raw_node = raw_nodes[loc[1]] if isinstance(raw_nodes, list) else None
            candidate = raw_node.get("id") if isinstance(raw_node, Mapping) else None
            if isinstance(candidate, str) and len(loc) > 2 and loc[2] != "id":
                node_id = candidate
        field = join_path("", *loc[2:]) if node_id else join_path("", *loc)
        issues.append(GraphIssue(node=node_id, field=field, message=_error_message(detail)))
    return issues


def parse_graph(graph: Graph | Mapping[str, Any]) -> Graph:
    """The Graph model of a graph or its JSON; raises `GraphInvalid` on a bad shape."""
    if isinstance(graph, Graph):
        return graph
    if not isinstance(graph, Mapping):
        raise GraphInvalid([GraphIssue(field="", message="a graph must be a JSON object")])
    try:
        return Graph.model_validate(graph)
    except ValidationError as error:
        raise GraphInvalid(_shape_issues(error, graph)) from None


# --- templates and expressions in configs -------------------------------------------------


@dataclass(frozen=True)
class _Source:
    """One template or bare expression inside a node's config."""

    field: str
    text: str
    expression: bool
    kind: NodeKind
    in_foreach_body: bool
    key: str
    """The config field it is in (`headers` for `config.headers.X-Token`)."""

    @property
    def sends_credentials(self) -> bool:
        return self.key in self.kind.credential_fields and not self.expression


def _template_sources(
    value: Any, field: str, kind: NodeKind, in_body: bool, key: str, depth: int = 0
) -> Iterator[_Source]:
    if isinstance(value, str):
        if is_template(value):
            yield _Source(field, value, False, kind, in_body, key)
    elif isinstance(value, Mapping) and depth < 64:
        for name, item in value.items():
            yield from _template_sources(
                item, join_path(field, str(name)), kind, in_body, key, depth + 1
            )
    elif isinstance(value, list) and depth < 64:
        for index, item in enumerate(value):
            yield from _template_sources(
                item, join_path(field, index), kind, in_body, key, depth + 1
            )


def config_sources(
    kind: NodeKind, config: Mapping[str, Any], prefix: str = "config", in_body: bool = False
) -> Iterator[_Source]:
    """Every template and expression in a config, a foreach body's included."""
    for name in kind.templates:
        if name in config:
            yield from _template_sources(config[name], join_path(prefix, name), kind, in_body, name)
    for name in kind.expressions:
        text = config.get(name)
        if isinstance(text, str):
            yield _Source(join_path(prefix, name), text, True, kind, in_body, name)
    body = config.get("node") if kind.config_model is ForeachConfig else None
    if isinstance(body, Mapping):
        body_kind = NODE_KINDS.get(str(body.get("type")))
        body_config = body.get("config")
        if body_kind is not None and body_kind.foreach_body and isinstance(body_config, Mapping):
            yield from config_sources(
                body_kind, body_config, join_path(prefix, "node", "config"), True
            )


def _credential_fields() -> str:
    return "; ".join(
        f"the {', '.join(kind.credential_fields)} of {name} nodes"
        for name, kind in NODE_KINDS.items()
        if kind.credential_fields
    )


CREDENTIAL_FIELDS = _credential_fields()
"""Where secrets may appear, for messages."""


def source_refusals(source: _Source) -> list[tuple[str, int | None]]:
    """What the sandbox would refuse in a template and how it misuses secrets: (message,
    position) pairs. Raises `ExpressionError` on a syntax error."""
    found = [
        (finding.message, finding.position)
        for finding in unsafe.findings(source.text, expression=source.expression)
    ]
    return found + secret_refusals(source)


def secret_refusals(source: _Source) -> list[tuple[str, int | None]]:
    """How a template misuses secrets (see `auterity.graph.credentials`): (message,
    position) pairs. Raises `ExpressionError` on a syntax error."""
    found = [
        (misuse.message, misuse.position)
        for misuse in credentials.misuses(
            source.text,
            expression=source.expression,
            credential_field=source.sends_credentials,
            allowed=CREDENTIAL_FIELDS,
        )
    ]
    return found


# --- graph structure ----------------------------------------------------------------------


def _strongly_connected(
    nodes: Sequence[str], successors: Mapping[str, list[str]]
) -> list[list[str]]:
    """Tarjan's components, iteratively; each in the graph's node order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    order = {name: position for position, name in enumerate(nodes)}
    counter = 0
    for start in nodes:
        if start in index:
            continue
        work: list[tuple[str, int]] = [(start, 0)]
        while work:
            node, child = work.pop()
            if child == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            children = successors.get(node, [])
            if child < len(children):
                work.append((node, child + 1))
                target = children[child]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component, key=order.__getitem__))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components


def _walk(starts: Iterable[str], neighbours: Mapping[str, list[str]]) -> set[str]:
    """The starts and every node reachable from them."""
    seen = set(starts)
    frontier = list(seen)
    while frontier:
        node = frontier.pop()
        for neighbour in neighbours.get(node, []):
            if neighbour not in seen:
                seen.add(neighbour)
                frontier.append(neighbour)
    return seen


def _cycle_path(start: str, members: set[str], successors: Mapping[str, list[str]]) -> list[str]:
    """A cycle through `start` inside one strongly connected component."""
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in successors.get(node, []):
                if target not in members:
                    continue
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if target not in parents:
                    parents[target] = node
                    following.append(target)
        frontier = following
    return [start, start]


# --- the checks ---------------------------------------------------------------------------


class _GraphCheck:
    """Runs every rule over one parsed graph and collects the issues."""

    def __init__(
        self,
        graph: Graph,
        known_secrets: Collection[str] | None,
        known_routes: Collection[str] | None,
    ) -> None:
        self.graph = graph
        self.known_secrets = known_secrets
        self.known_routes = known_routes
        self.issues: list[GraphIssue] = []
        self.nodes: dict[str, Node] = {}
        self.configs: dict[str, KindConfig] = {}
        self.successors: dict[str, list[str]] = {}
        self.predecessors: dict[str, list[str]] = {}

    def add(self, node: str | None, field: str, message: str, position: int | None = None) -> None:
        self.issues.append(GraphIssue(node=node, field=field, message=message, position=position))

    def run(self) -> list[GraphIssue]:
        self.check_nodes()
        self.check_edges()
        self.check_structure()
        self.check_sources()
        return self.issues

    # nodes and configs

    def check_nodes(self) -> None:
        first_index: dict[str, int] = {}
        for index, node in enumerate(self.graph.nodes):
            if node.id in first_index:
                self.add(
                    node.id,
                    "id",
                    f"duplicate node id {node.id!r} "
                    f"(nodes[{first_index[node.id]}] and nodes[{index}])",
                )
                continue
            first_index[node.id] = index
            self.nodes[node.id] = node
            kind = self.kind(node.id, "type", node.type)
            if kind is None:
                continue
            self.check_execution(node.id, "execution", kind, node.execution)
            config = self.check_config(node.id, "config", kind, node.config)
            if config is None:
                continue
            self.check_stream(node.id, "config.stream", node.execution, config)
            self.configs[node.id] = config
            if isinstance(config, ForeachConfig):
                self.check_foreach_body(node.id, config)

    def kind(self, node: str, field: str, name: str) -> NodeKind | None:
        kind = NODE_KINDS.get(name)
        if kind is None:
            self.add(node, field, f"unknown node kind {name!r} (known: {', '.join(NODE_KINDS)})")
        return kind

    def check_execution(self, node: str, field: str, kind: NodeKind, execution: str | None) -> None:
        if execution == "local" and not kind.local:
            local = ", ".join(name for name, k in NODE_KINDS.items() if k.local)
            self.add(node, field, f"only {local} nodes can run as local activities")

    def check_stream(
        self, node: str, field: str, execution: str | None, config: KindConfig
    ) -> None:
        """A streamed llm call is watched by its heartbeats, which local activities lack."""
        if isinstance(config, LlmConfig) and config.stream and execution == "local":
            self.add(node, field, "a streamed llm call cannot run as a local activity")

    def check_config(
        self, node: str, field: str, kind: NodeKind, config: Mapping[str, Any]
    ) -> KindConfig | None:
        try:
            parsed = kind.parse_config(config)
        except ValidationError as error:
            self.issues.extend(_pydantic_issues(error, node=node, prefix=field))
            return None
        if (
            isinstance(parsed, LlmConfig)
            and self.known_routes is not None
            and parsed.route is not None
            and parsed.route not in self.known_routes
        ):
            self.add(node, f"{field}.route", f"unknown model route {parsed.route!r}")
        return parsed

    def check_foreach_body(self, node: str, config: ForeachConfig) -> None:
        body = config.node
        kind = self.kind(node, "config.node.type", body.type)
        if kind is None:
            return
        if not kind.foreach_body:
            allowed = ", ".join(name for name, k in NODE_KINDS.items() if k.foreach_body)
            self.add(
                node, "config.node.type", f"a foreach runs one of {allowed}, not {body.type!r}"
            )
            return
        self.check_execution(node, "config.node.execution", kind, body.execution)
        parsed = self.check_config(node, "config.node.config", kind, body.config)
        if parsed is not None:
            self.check_stream(node, "config.node.config.stream", body.execution, parsed)

    # edges

    def check_edges(self) -> None:
        seen: dict[tuple[str, str, str | None], int] = {}
        error_edges: set[str] = set()
        for index, edge in enumerate(self.graph.edges):
            known = True
            for end, field in ((edge.source, "from"), (edge.to, "to")):
                if end not in self.nodes:
                    self.add(None, f"edges[{index}].{field}", f"unknown node {end!r}")
                    known = False
            key = (edge.source, edge.to, edge.when)
            if key in seen:
                self.add(None, f"edges[{index}]", f"duplicate of edges[{seen[key]}]")
                continue
            seen[key] = index
            if not known:
                continue
            self.successors.setdefault(edge.source, []).append(edge.to)
            self.predecessors.setdefault(edge.to, []).append(edge.source)
            if edge.when == ERROR_LABEL:
                error_edges.add(edge.source)
            self.check_label(index, edge)
        for node in self.nodes.values():
            if node.on_error == "error" and node.id not in error_edges:
                self.add(node.id, "on_error", 'on_error is "error" but no edge has when: "error"')

    def labels(self, node: Node) -> frozenset[str] | None:
        config = self.configs.get(node.id)
        if config is None:
            return None
        extra = {ERROR_LABEL} if node.on_error == "error" else set()
        return config.labels() | extra

    def check_label(self, index: int, edge: Edge) -> None:
        if edge.when is None:
            return
        source = self.nodes[edge.source]
        labels = self.labels(source)
        if labels is None or edge.when in labels:
            return
        emits = f"it emits {', '.join(sorted(labels))}" if labels else "it emits no labels"
        hint = '; set on_error: "error" to follow error edges' if edge.when == ERROR_LABEL else ""
        self.add(
            edge.source,
            f"edges[{index}].when",
            f"a {source.type} node cannot emit {edge.when!r}: {emits}{hint}",
        )

    # structure

    def check_structure(self) -> None:
        order = list(self.nodes)
        in_cycle: set[str] = set()
        for component in _strongly_connected(order, self.successors):
            start = component[0]
            if len(component) == 1 and start not in self.successors.get(start, []):
                continue
            in_cycle.update(component)
            path = _cycle_path(start, set(component), self.successors)
            self.add(
                start,
                self.edge_field(path[-2], path[-1]),
                f"cycle: {' → '.join(path)} (loop with foreach or subgraph instead)",
            )
        roots = [node for node in order if not self.predecessors.get(node)]
        if order and not roots:
            self.add(None, "edges", "no start node: every node has an incoming edge")
        reached = _walk(roots, self.successors)
        for node in order:
            if node not in reached and node not in in_cycle:
                self.add(node, "id", "unreachable: no path from a start node leads here")

    def edge_field(self, source: str, target: str) -> str:
        for index, edge in enumerate(self.graph.edges):
            if edge.source == source and edge.to == target:
                return f"edges[{index}]"
        return "edges"

    def upstream(self, node: str) -> set[str]:
        """The node's ancestors: every node with a path to it."""
        return _walk(self.predecessors.get(node, []), self.predecessors)

    # templates and expressions

    def check_sources(self) -> None:
        for node_id, node in self.nodes.items():
            kind = NODE_KINDS.get(node.type)
            if kind is None:
                continue
            upstream: set[str] | None = None
            for source in config_sources(kind, node.config):
                try:
                    if source.expression:
                        parse_expression(source.text)
                    else:
                        parse_template(source.text)
                    references = referenced_names(source.text, expression=source.expression)
                    fields = node_fields(source.text, expression=source.expression)
                    refusals = source_refusals(source)
                except ExpressionError as error:
                    self.add(node_id, source.field, error.message, error.position)
                    continue
                for refusal, at in refusals:
                    self.add(node_id, source.field, refusal, at)
                if upstream is None:
                    upstream = self.upstream(node_id)
                for reference in sorted(references, key=lambda r: (r.root, r.name or "")):
                    message = self.reference_problem(node_id, source, reference, upstream)
                    if message is not None:
                        position = reference_position(source.text, reference)
                        self.add(node_id, source.field, message, position)
                for read_node, field in sorted(fields):
                    if read_node in self.nodes and field not in NODE_STATE_FIELDS:
                        position = reference_position(source.text, Reference("nodes", read_node))
                        self.add(
                            node_id,
                            source.field,
                            f"nodes.{read_node} has output, status and error, not {field!r} "
                            f"(did you mean nodes.{read_node}.output.{field}?)",
                            position,
                        )

    def reference_problem(
        self, node: str, source: _Source, reference: Reference, upstream: set[str]
    ) -> str | None:
        root, name = reference
        if root not in SCOPE_ROOTS:
            return (
                f"unknown name {root!r}: templates read inputs, nodes, vars, secrets, "
                "and item and index inside a foreach body"
            )
        if root == "nodes":
            if name is None:
                return "refer to a node as nodes.<id>"
            if name == node:
                return f"node {node!r} cannot read its own state"
            if name not in self.nodes:
                return f"unknown node {name!r}"
            if name not in upstream:
                return f"node {name!r} is not upstream of {node!r}"
        elif root == "secrets":
            if name is None or not source.sends_credentials:
                return None  # reported by `source_refusals`
            if self.known_secrets is not None and name not in self.known_secrets:
                return f"unknown secret {name!r}"
        elif root in ("item", "index"):
            if not source.in_foreach_body:
                return f"{root!r} exists only inside a foreach body"
        elif root == "vars":
            if name is not None and name not in self.graph.vars:
                declared = ", ".join(self.graph.vars) or "none"
                return f"unknown var {name!r} (the graph's vars: {declared})"
        elif root == "inputs":
            properties = self.graph.inputs.get("properties")
            if name is not None and isinstance(properties, Mapping) and name not in properties:
                return f"input {name!r} is not declared in the graph's inputs schema"
        return None


def validate_graph(
    graph: Graph | Mapping[str, Any],
    *,
    known_secrets: Collection[str] | None = None,
    known_routes: Collection[str] | None = None,
) -> list[GraphIssue]:
    """Every issue with a graph (or its JSON); an empty list means it is valid.

    With `known_secrets` / `known_routes`, references to other secrets or model
    routes are issues too."""
    try:
        parsed = parse_graph(graph)
    except GraphInvalid as invalid:
        return invalid.issues
    return _GraphCheck(parsed, known_secrets, known_routes).run()


def check_graph(
    graph: Graph | Mapping[str, Any],
    *,
    known_secrets: Collection[str] | None = None,
    known_routes: Collection[str] | None = None,
) -> Graph:
    """The parsed graph; raises `GraphInvalid` with every issue when it is not valid."""
    parsed = parse_graph(graph)
    issues = _GraphCheck(parsed, known_secrets, known_routes).run()
    if issues:
        raise GraphInvalid(issues)
    return parsed
