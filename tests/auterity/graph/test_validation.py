from typing import Any

import pytest

from auterity.graph.validation import GraphInvalid, GraphIssue, check_graph, validate_graph
from tests.auterity.graph.graphs import edge, graph, node, triage


def issues_of(document: Any, **known: Any) -> list[tuple[str | None, str, str, int | None]]:
    return [
        (issue.node, issue.field, issue.message, issue.position)
        for issue in validate_graph(document, **known)
    ]


def only_issue(document: Any, **known: Any) -> GraphIssue:
    issues = validate_graph(document, **known)
    assert len(issues) == 1, issues
    return issues[0]


def test_the_design_example_is_valid() -> None:
    assert validate_graph(triage()) == []
    assert validate_graph(triage(), known_secrets={"hook_url"}, known_routes={"fast"}) == []


def test_check_graph_raises_with_every_issue() -> None:
    document = graph([node("a", "http"), node("a")], [])
    with pytest.raises(GraphInvalid) as caught:
        check_graph(document)
    assert [issue.field for issue in caught.value.issues] == ["config.url", "id"]
    assert "invalid graph: node 'a', config.url: required" in str(caught.value)


# --- shape --------------------------------------------------------------------------------


def test_malformed_shape_names_node_and_field() -> None:
    document = graph(
        [node("a", retry={"maximum_attempts": -1}), {"id": "b", "type": "http", "colour": 1}],
        [{"from": "a"}],
    )
    assert issues_of(document) == [
        ("a", "retry.maximum_attempts", "Input should be greater than or equal to 0", None),
        ("b", "colour", "unknown field 'colour'", None),
        (None, "edges[0].to", "required", None),
    ]


def test_bad_node_id_is_reported_by_index() -> None:
    issue = only_issue(graph([node("1st")], []))
    assert (issue.node, issue.field) == (None, "nodes[0].id")
    assert "letters, digits and '_'" in issue.message


def test_not_an_object() -> None:
    assert issues_of(["nodes"]) == [(None, "", "a graph must be a JSON object", None)]


# --- nodes --------------------------------------------------------------------------------


def test_unknown_node_kind() -> None:
    issue = only_issue(graph([node("a", "ftp")], []))
    assert (issue.node, issue.field) == ("a", "type")
    assert issue.message.startswith("unknown node kind 'ftp' (known: http, llm, transform")


def test_duplicate_ids() -> None:
    issue = only_issue(graph([node("a"), node("b"), node("a")], [edge("a", "b")]))
    assert (issue.node, issue.field) == ("a", "id")
    assert issue.message == "duplicate node id 'a' (nodes[0] and nodes[2])"


def test_config_errors_name_node_and_field() -> None:
    document = graph(
        [
            node("fetch", "http", config={"url": "https://x", "headers": {"A": 1}, "verb": "GET"}),
            node(
                "ask", "llm", config={"prompt": "x", "messages": [{"role": "bot", "content": ""}]}
            ),
        ],
        [edge("fetch", "ask")],
    )
    assert issues_of(document) == [
        ("fetch", "config.headers.A", "Input should be a valid string", None),
        ("fetch", "config.verb", "unknown field 'verb'", None),
        (
            "ask",
            "config.messages[0].role",
            "Input should be 'system', 'user' or 'assistant'",
            None,
        ),
    ]


def test_local_execution_only_for_http_and_llm() -> None:
    document = graph(
        [
            node("a", execution="local"),
            node("b", "http", execution="local", config={"url": "https://x"}),
        ],
        [edge("a", "b")],
    )
    assert issues_of(document) == [
        ("a", "execution", "only http, llm nodes can run as local activities", None)
    ]


def test_foreach_body_is_validated() -> None:
    document = graph(
        [
            node(
                "each",
                "foreach",
                config={"items": "inputs.rows", "node": {"type": "condition", "config": {}}},
            ),
            node(
                "each2",
                "foreach",
                config={"items": "inputs.rows", "node": {"type": "http", "config": {"url": 1}}},
            ),
        ],
        [edge("each", "each2")],
    )
    assert issues_of(document) == [
        (
            "each",
            "config.node.type",
            "a foreach runs one of http, llm, transform, subgraph, not 'condition'",
            None,
        ),
        ("each2", "config.node.config.url", "Input should be a valid string", None),
    ]


# --- edges --------------------------------------------------------------------------------


def test_dangling_edges() -> None:
    document = graph([node("a"), node("b")], [edge("a", "b"), edge("a", "ghost"), edge("x", "b")])
    assert issues_of(document) == [
        (None, "edges[1].to", "unknown node 'ghost'", None),
        (None, "edges[2].from", "unknown node 'x'", None),
    ]


def test_duplicate_edges() -> None:
    document = graph([node("a"), node("b")], [edge("a", "b"), edge("a", "b")])
    assert issues_of(document) == [(None, "edges[1]", "duplicate of edges[0]", None)]


def test_when_label_the_source_cannot_produce() -> None:
    document = triage()
    document["edges"][1]["when"] = "yes"
    issue = only_issue(document)
    assert (issue.node, issue.field) == ("urgent", "edges[1].when")
    assert issue.message == "a condition node cannot emit 'yes': it emits false, true"


def test_when_label_on_a_kind_without_labels() -> None:
    issue = only_issue(graph([node("a"), node("b")], [edge("a", "b", when="error")]))
    assert (issue.node, issue.field) == ("a", "edges[0].when")
    assert 'it emits no labels; set on_error: "error"' in issue.message


def test_error_edges_need_on_error_error() -> None:
    valid = graph([node("a", on_error="error"), node("b")], [edge("a", "b", when="error")])
    assert validate_graph(valid) == []
    missing = graph([node("a", on_error="error"), node("b")], [edge("a", "b")])
    assert issues_of(missing) == [
        ("a", "on_error", 'on_error is "error" but no edge has when: "error"', None)
    ]


def test_switch_and_approval_labels() -> None:
    document = graph(
        [
            node("route", "switch", config={"expression": "inputs.kind", "cases": ["bug"]}),
            node("ok", "approval", config={"assignees": ["role:x"], "on_timeout": "timeout"}),
            node("done"),
        ],
        [
            edge("route", "ok", "bug"),
            edge("route", "done", "default"),
            edge("ok", "done", "timeout"),
            edge("ok", "done", "approved"),
        ],
    )
    assert validate_graph(document) == []


# --- structure ----------------------------------------------------------------------------


def test_cycles_name_their_nodes() -> None:
    document = graph(
        [node("start"), node("a"), node("b"), node("c")],
        [edge("start", "a"), edge("a", "b"), edge("b", "c"), edge("c", "a")],
    )
    assert issues_of(document) == [
        ("a", "edges[3]", "cycle: a → b → c → a (loop with foreach or subgraph instead)", None)
    ]


def test_self_loop_is_a_cycle() -> None:
    issue = only_issue(graph([node("start"), node("a")], [edge("start", "a"), edge("a", "a")]))
    assert (issue.node, issue.field) == ("a", "edges[1]")
    assert issue.message.startswith("cycle: a → a")


def test_unreachable_nodes() -> None:
    document = graph(
        [node("start"), node("a"), node("b"), node("after")],
        [edge("a", "b"), edge("b", "a"), edge("b", "after")],
    )
    assert issues_of(document)[1:] == [
        ("after", "id", "unreachable: no path from a start node leads here", None)
    ]


def test_a_graph_needs_a_start_node() -> None:
    document = graph([node("a"), node("b")], [edge("a", "b"), edge("b", "a")])
    assert (None, "edges", "no start node: every node has an incoming edge", None) in issues_of(
        document
    )


# --- templates and expressions ------------------------------------------------------------


def test_template_syntax_error_has_node_field_and_position() -> None:
    document = triage()
    document["nodes"][3]["config"]["json"] = {"text": "Ticket: {{ nodes.classify.output.text }"}
    issue = only_issue(document)
    assert (issue.node, issue.field, issue.position) == ("notify", "config.json.text", 38)
    assert "unexpected '}'" in issue.message


def test_expression_syntax_error_has_node_field_and_position() -> None:
    document = triage()
    document["nodes"][1]["config"]["expression"] = "nodes.classify.output.text = 'urgent'"
    issue = only_issue(document)
    assert (issue.node, issue.field, issue.position) == ("urgent", "config.expression", 27)
    assert issue.message == "unexpected '=' after the expression"


def test_message_list_templates_are_checked() -> None:
    document = graph(
        [node("ask", "llm", config={"messages": [{"role": "user", "content": "{{ x y }}"}]})], []
    )
    issue = only_issue(document)
    assert (issue.node, issue.field, issue.position) == ("ask", "config.messages[0].content", 5)


def test_reference_to_a_node_that_is_not_upstream() -> None:
    document = triage()
    document["nodes"][0]["config"]["prompt"] = "Classify: {{ nodes.notify.output }}"
    issue = only_issue(document)
    assert (issue.node, issue.field, issue.position) == ("classify", "config.prompt", 13)
    assert issue.message == "node 'notify' is not upstream of 'classify'"


def test_reference_to_a_sibling_branch_is_not_upstream() -> None:
    document = graph(
        [node("a"), node("left"), node("right", config={"value": "{{ nodes['left'].output }}"})],
        [edge("a", "left"), edge("a", "right")],
    )
    assert issues_of(document) == [
        ("right", "config.value", "node 'left' is not upstream of 'right'", 3)
    ]


def test_reference_to_an_unknown_node() -> None:
    document = triage()
    document["nodes"][1]["config"]["expression"] = "nodes.clasify.output.text == 'urgent'"
    assert issues_of(document) == [("urgent", "config.expression", "unknown node 'clasify'", 0)]


def test_reference_to_itself() -> None:
    document = graph([node("a", config={"value": "{{ nodes.a.status }}"})], [])
    assert issues_of(document) == [("a", "config.value", "node 'a' cannot read its own state", 3)]


def test_transitive_upstream_references_are_fine() -> None:
    document = graph(
        [node("a"), node("b"), node("c", config={"expression": "nodes.a.output ~ nodes.b.status"})],
        [edge("a", "b"), edge("b", "c")],
    )
    assert validate_graph(document) == []


def test_unknown_names() -> None:
    document = graph([node("a", config={"value": "{{ input.x }}"})], [])
    issue = only_issue(document)
    assert (issue.node, issue.field, issue.position) == ("a", "config.value", 3)
    assert issue.message.startswith("unknown name 'input'")


def test_unknown_secret_when_secrets_are_known() -> None:
    issue = only_issue(triage(), known_secrets={"other"})
    assert (issue.node, issue.field, issue.position) == ("notify", "config.url", 3)
    assert issue.message == "unknown secret 'hook_url'"


def test_secrets_only_in_activity_nodes() -> None:
    document = graph([node("a", config={"value": "Bearer {{ secrets.token }}"})], [])
    issue = only_issue(document)
    assert (issue.node, issue.field, issue.position) == ("a", "config.value", 10)
    assert issue.message.startswith("secrets can only be read by http, llm nodes")


def test_unknown_route_when_routes_are_known() -> None:
    issue = only_issue(triage(), known_routes={"slow"})
    assert (issue.node, issue.field, issue.message) == (
        "classify",
        "config.route",
        "unknown model route 'fast'",
    )


def test_item_and_index_only_inside_foreach() -> None:
    body = {"type": "http", "config": {"url": "https://x/{{ index }}", "json": "{{ item }}"}}
    inside = graph([node("each", "foreach", config={"items": "inputs.rows", "node": body})], [])
    assert validate_graph(inside) == []
    outside = graph([node("each", "foreach", config={"items": "item.rows", "node": body})], [])
    assert issues_of(outside) == [
        ("each", "config.items", "'item' exists only inside a foreach body", 0)
    ]


def test_foreach_body_references_are_checked_against_the_foreach() -> None:
    body = {"type": "transform", "config": {"value": "{{ nodes.later.output }}"}}
    document = graph(
        [node("each", "foreach", config={"items": "[1, 2]", "node": body}), node("later")],
        [edge("each", "later")],
    )
    assert issues_of(document) == [
        ("each", "config.node.config.value", "node 'later' is not upstream of 'each'", 3)
    ]


def test_undeclared_vars_and_inputs() -> None:
    document = triage()
    document["vars"] = {"team": "ops"}
    document["nodes"][0]["config"]["prompt"] = "{{ vars.team }} {{ vars.tema }} {{ inputs.tiket }}"
    assert issues_of(document) == [
        (
            "classify",
            "config.prompt",
            "input 'tiket' is not declared in the graph's inputs schema",
            35,
        ),
        ("classify", "config.prompt", "unknown var 'tema' (the graph's vars: team)", 19),
    ]


def test_node_state_has_only_output_status_and_error() -> None:
    document = triage()
    document["nodes"][1]["config"]["expression"] = "nodes.classify.text == 'urgent'"
    issue = only_issue(document)
    assert (issue.node, issue.field, issue.position) == ("urgent", "config.expression", 0)
    assert issue.message == (
        "nodes.classify has output, status and error, not 'text' "
        "(did you mean nodes.classify.output.text?)"
    )
