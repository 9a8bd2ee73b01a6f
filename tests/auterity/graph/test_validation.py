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


def test_a_streamed_llm_call_cannot_run_as_a_local_activity() -> None:
    streamed = {"prompt": "x", "stream": True}
    body = {"type": "llm", "execution": "local", "config": streamed}
    document = graph(
        [
            node("ask", "llm", execution="local", config=streamed),
            node("each", "foreach", config={"items": "[1]", "node": body}),
            node("fine", "llm", config={**streamed, "stall_timeout": "5s"}),
        ],
        [],
    )
    message = "a streamed llm call cannot run as a local activity"
    assert issues_of(document) == [
        ("ask", "config.stream", message, None),
        ("each", "config.node.config.stream", message, None),
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
    assert issue.message.startswith("secrets are credentials: they may appear only in the url")


# --- secrets are credentials ----------------------------------------------------------------

HTTP = "http://api.example.com/x"


@pytest.mark.parametrize(
    "config",
    [
        {"url": "{{ secrets.hook_url }}"},
        {"url": "https://chat.example/hooks/{{ secrets.hook_path }}?key={{ secrets['key'] }}"},
        {"url": HTTP, "headers": {"Authorization": "Bearer {{ secrets.token }}"}},
        {"url": HTTP, "query": {"api_key": "{{ secrets.token }}"}},
        {"url": HTTP, "method": "POST", "json": {"auth": {"key": "{{ secrets.token }}"}}},
        {"url": HTTP, "method": "POST", "body": "token={{ secrets.token }}&x=1"},
        {"url": HTTP, "auth": {"scheme": "bearer", "token": "{{ secrets.token }}"}},
        {
            "url": HTTP,
            "auth": {"scheme": "basic", "username": "bot", "password": "{{ secrets.pw }}"},
        },
    ],
)
def test_secrets_whole_where_a_credential_belongs(config: dict[str, Any]) -> None:
    assert validate_graph(graph([node("call", "http", config=config)], [])) == []


def test_an_llm_provider_key_is_a_secret() -> None:
    config = {"prompt": "hi", "api_key": "{{ secrets.openai }}"}
    assert validate_graph(graph([node("ask", "llm", config=config)], [])) == []
    for api_key in ("sk-{{ secrets.openai }}", "sk-live-1234"):
        config = {"prompt": "hi", "api_key": api_key}
        issue = only_issue(graph([node("ask", "llm", config=config)], []))
        assert (issue.field, issue.message) == (
            "config.api_key",
            "api_key must be exactly {{ secrets.<name> }}",
        )


@pytest.mark.parametrize(
    ("kind", "config", "field", "position", "complaint"),
    [
        ("llm", {"prompt": "Say {{ secrets.x | reverse }}"}, "config.prompt", 7, "may appear only"),
        (
            "llm",
            {"prompt": "hi", "system": "{{ secrets.x }}"},
            "config.system",
            3,
            "may appear only",
        ),
        ("http", {"url": HTTP, "method": "{{ secrets.x }}"}, "config.method", 3, "may appear only"),
        (
            "http",
            {"url": HTTP, "headers": {"A": "{{ secrets.x | reverse }}"}},
            "config.headers.A",
            3,
            "no filter",
        ),
        (
            "http",
            {"url": HTTP, "headers": {"A": "{{ secrets.x[0] }}"}},
            "config.headers.A",
            3,
            "no filter",
        ),
        (
            "http",
            {"url": HTTP, "headers": {"A": "{{ secrets.x ~ '' }}"}},
            "config.headers.A",
            3,
            "no filter",
        ),
        ("http", {"url": HTTP, "query": {"a": "{{ secrets }}"}}, "config.query.a", 3, "no filter"),
        (
            "http",
            {"url": HTTP, "query": {"a": "{{ secrets[inputs.k] }}"}},
            "config.query.a",
            3,
            "no filter",
        ),
        (
            "http",
            {"url": HTTP, "body": "{% if secrets.x.startswith('a') %}1{% endif %}"},
            "config.body",
            6,
            "no filter",
        ),
        (
            "http",
            {"url": HTTP, "body": "{% set y %}{{ secrets.x }}{% endset %}{{ y | reverse }}"},
            "config.body",
            14,
            "no filter",
        ),
        (
            "http",
            {"url": HTTP, "body": "{% filter reverse %}{{ secrets.x }}{% endfilter %}"},
            "config.body",
            23,
            "no filter",
        ),
        (
            "http",
            {"url": HTTP, "body": "{% for c in secrets.x %}{{ c }}{% endfor %}"},
            "config.body",
            12,
            "no filter",
        ),
        ("transform", {"expression": "secrets.x"}, "config.expression", 0, "may appear only"),
        (
            "condition",
            {"expression": "secrets.x == 'a'"},
            "config.expression",
            0,
            "may appear only",
        ),
    ],
)
def test_secrets_anywhere_else_are_refused_at_save(
    kind: str, config: dict[str, Any], field: str, position: int, complaint: str
) -> None:
    """Attack: `{{ secrets.x | reverse }}` in a prompt used to return the value reversed."""
    issue = only_issue(graph([node("n", kind, config=config)], []))
    assert (issue.node, issue.field, issue.position) == ("n", field, position)
    assert complaint in issue.message


# --- what the sandbox would refuse ----------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "position", "complaint"),
    [
        ("{{ ''.__class__ }}", 5, "'.__class__' is not readable"),
        ("{{ inputs._private }}", 9, "'._private' is not readable"),
        ("x {{ inputs.a.mro }}", 13, "'.mro' is not readable"),
        ("{{ cycler.next.func_globals }}", 14, "'.func_globals' is not readable"),
        ("{{ inputs.a.gi_frame }}", 11, "'.gi_frame' is not readable"),
        ("{{ inputs['__class__'] }}", 9, "Python's internals"),
        ("{{ '{0.__class__}'.format(inputs.a) }}", 18, "may not read attributes"),
        ("{{ '{0[x]}'.format(inputs.a) }}", 11, "may not read attributes"),
        ("{{ inputs.a.format(1) }}", 11, "format string written in the template"),
        ("{{ inputs.a | attr('__class__') }}", 12, "attr() may not read '__class__'"),
        ("{{ inputs.a | attr('format') }}", 12, "format method"),
        ("{{ inputs.a | map(attribute='__class__') | list }}", 12, "may not read"),
        ("{{ inputs.a | selectattr('_x.y') | list }}", 12, "may not read '_x'"),
        ("{{ inputs.a.append(1) }}", 11, "would modify a value"),
        ("{{ inputs.update({'a': 1}) }}", 9, "would modify a value"),
    ],
)
def test_what_the_sandbox_would_refuse_is_refused_at_save(
    template: str, position: int, complaint: str
) -> None:
    document = graph([node("t", config={"value": template})], [])
    issue = only_issue(document)
    assert (issue.node, issue.field, issue.position) == ("t", "config.value", position)
    assert complaint in issue.message


def test_json_keys_that_look_internal_read_with_brackets() -> None:
    template = "{{ inputs['_id'] }} {{ inputs['mro'] }} {{ inputs.format }} {{ '{:>4}'.format(1) }}"
    assert validate_graph(graph([node("t", config={"value": template})], [])) == []


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
