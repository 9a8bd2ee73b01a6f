from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from auterity.graph.kinds import (
    NODE_KINDS,
    ApprovalConfig,
    ConditionConfig,
    HttpConfig,
    SwitchConfig,
    graph_schema,
    kind_schemas,
)
from tests.auterity.graph.graphs import triage

VALID_CONFIGS: dict[str, dict[str, Any]] = {
    "http": {"method": "post", "url": "https://example.com/{{ inputs.id }}", "json": {"a": 1}},
    "llm": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
    "transform": {"value": {"total": "{{ inputs.a + 1 }}"}},
    "condition": {"expression": "inputs.a > 1"},
    "switch": {"expression": "inputs.kind", "cases": ["bug", "question"]},
    "merge": {"mode": "any"},
    "wait": {"duration": "1h"},
    "approval": {"assignees": ["user:ann@example.com", "role:manager"]},
    "subgraph": {"graph_id": "g1", "version": "v_" + "0" * 24, "inputs": {"x": "{{ item }}"}},
    "foreach": {"items": "inputs.rows", "node": {"type": "http", "config": {"url": "https://x"}}},
}

INVALID_CONFIGS: list[tuple[str, dict[str, Any], str]] = [
    ("http", {"url": "ftp://x"}, "url must start with http"),
    ("http", {"url": "https://x", "method": "FETCH"}, "unknown HTTP method"),
    ("http", {"url": "https://x", "json": {}, "body": "x"}, "not both"),
    ("http", {"url": "https://x", "expect_status": [200, 1000]}, "not HTTP status codes"),
    ("llm", {"route": "a", "model": "b", "prompt": "x"}, "one of route, model or model_ref"),
    ("llm", {"route": "a", "model_ref": "m@1", "prompt": "x"}, "one of route, model or"),
    ("llm", {"model_ref": "m", "prompt": "x"}, "String should match pattern"),
    ("llm", {"prompt": "x", "model_version": 2}, "model_version goes with model_ref"),
    ("llm", {"prompt": "x", "stall_timeout": "5s"}, "stall_timeout goes with stream: true"),
    ("llm", {"prompt": "x", "stream": True, "stall_timeout": "soon"}, "duration"),
    ("llm", {"route": "a"}, "exactly one of prompt, prompt_ref or messages"),
    ("llm", {"prompt_ref": "triage"}, "should match pattern"),
    (
        "llm",
        {"prompt": "x", "prompt_version": 2},
        "prompt_version and variables go with prompt_ref",
    ),
    ("llm", {"prompt": "x", "temperature": 3}, "less than or equal to 2"),
    ("transform", {}, "set value or expression"),
    ("transform", {"value": 1, "expression": "2"}, "not both"),
    ("condition", {}, "Field required"),
    ("switch", {"expression": "x", "cases": ["a", "a"]}, "duplicate cases: a"),
    ("switch", {"expression": "x", "cases": ["default"]}, "reserved"),
    ("merge", {"mode": "some"}, "'all' or 'any'"),
    ("wait", {}, "exactly one of duration or until"),
    ("wait", {"duration": "soon"}, "invalid duration"),
    ("approval", {"assignees": ["ann"]}, "assignees must be"),
    ("approval", {"assignees": ["role:x"], "on_timeout": "maybe"}, "on_timeout 'maybe'"),
    ("approval", {"assignees": ["role:x"], "outcomes": ["ok"], "on_timeout": "reject"}, "'reject'"),
    ("subgraph", {"graph_id": "g", "version": "latest"}, "should match pattern"),
    ("foreach", {"items": "x", "node": {"type": "http"}, "concurrency": 0}, "greater than"),
    ("foreach", {"items": "x", "node": {"type": "http", "id": "a"}}, "Extra inputs"),
]


@pytest.mark.parametrize("kind", sorted(NODE_KINDS))
def test_every_kind_has_a_valid_example(kind: str) -> None:
    NODE_KINDS[kind].parse_config(VALID_CONFIGS[kind])


@pytest.mark.parametrize(("kind", "config", "message"), INVALID_CONFIGS)
def test_configs_are_checked(kind: str, config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        NODE_KINDS[kind].parse_config(config)


@pytest.mark.parametrize("kind", sorted(NODE_KINDS))
def test_configs_reject_unknown_fields(kind: str) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        NODE_KINDS[kind].parse_config({**VALID_CONFIGS[kind], "unexpected": 1})


@pytest.mark.parametrize("kind", sorted(NODE_KINDS))
def test_normalized_configs_validate_again(kind: str) -> None:
    model = NODE_KINDS[kind].config_model
    dumped = model.model_validate(VALID_CONFIGS[kind]).model_dump(mode="json")
    assert model.model_validate(dumped).model_dump(mode="json") == dumped


def test_http_method_is_upper_cased_unless_templated() -> None:
    assert HttpConfig(url="https://x", method="post").method == "POST"
    assert HttpConfig(url="https://x", method="{{ inputs.m }}").method == "{{ inputs.m }}"
    assert HttpConfig.model_validate({"url": "https://x", "json": [1]}).json_body == [1]


def test_labels() -> None:
    assert ConditionConfig(expression="x").labels() == {"true", "false"}
    assert SwitchConfig(expression="x", cases=["a", "b"]).labels() == {"a", "b", "default"}
    assert NODE_KINDS["http"].parse_config(VALID_CONFIGS["http"]).labels() == set()
    approval = ApprovalConfig(assignees=["role:x"])
    assert approval.labels() == {"approved", "rejected"}
    assert approval.timeout_outcome() is None
    custom = ApprovalConfig(assignees=["role:x"], outcomes=["yes", "no"], on_timeout="timeout")
    assert custom.labels() == {"yes", "no", "timeout"}
    assert custom.timeout_outcome() == "timeout"
    assert ApprovalConfig(assignees=["role:x"], on_timeout="reject").timeout_outcome() == "rejected"


def test_registry_says_how_kinds_run() -> None:
    runs_as = {name: kind.runs_as for name, kind in NODE_KINDS.items()}
    assert runs_as["http"] == runs_as["llm"] == "activity"
    assert {runs_as[k] for k in ("transform", "condition", "switch", "merge", "wait")} == {
        "workflow"
    }
    assert runs_as["subgraph"] == "child_workflow"
    assert NODE_KINDS["condition"].expressions == ("expression",)
    assert "json" in NODE_KINDS["http"].templates
    assert {name for name, kind in NODE_KINDS.items() if kind.local} == {"http", "llm"}
    assert {name for name, kind in NODE_KINDS.items() if kind.secrets} == {"http", "llm"}


def test_kind_schemas_describe_every_config() -> None:
    schemas = kind_schemas()
    assert set(schemas) == set(NODE_KINDS)
    for kind, schema in schemas.items():
        jsonschema.Draft202012Validator.check_schema(schema)
        jsonschema.validate(VALID_CONFIGS[kind], schema)
    assert "json" in schemas["http"]["properties"]
    assert schemas["http"]["additionalProperties"] is False
    assert schemas["condition"]["x-auterity"]["expressions"] == ["expression"]


def test_graph_schema_ties_configs_to_kinds() -> None:
    schema = graph_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(triage(), schema)
    bad = triage()
    bad["nodes"][3]["config"]["uri"] = "https://x"
    with pytest.raises(jsonschema.ValidationError, match="'uri' was unexpected"):
        jsonschema.validate(bad, schema)
    unknown = triage()
    unknown["nodes"][0]["type"] = "ftp"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(unknown, schema)
