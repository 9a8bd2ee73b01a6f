"""Node kinds: one config model per kind and the registry `NODE_KINDS`.

Each `NodeKind` says how the kind runs (`activity`, in the `workflow`, or as a
`child_workflow`), which `when` labels its outgoing edges may carry, and which
config fields are templates (every string inside is rendered, see
`auterity.graph.expressions.render_value`) or bare expressions (`evaluate`).

Any node may also emit `error` when its `on_error` is `"error"`; that label is
added by validation, not by the kinds.

`kind_schemas()` and `graph_schema()` are the JSON Schemas the API publishes for
the builder.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from auterity.graph.credentials import whole_reference
from auterity.graph.model import (
    VERSION_ID_PATTERN,
    Duration,
    ExecutionMode,
    Graph,
    GraphModel,
    RetrySpec,
    parse_duration,
)

RunsAs = Literal["activity", "workflow", "child_workflow"]

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
ERROR_LABEL = "error"
"""The label of the edges a node with `on_error: "error"` follows when it fails."""
TIMEOUT_LABEL = "timeout"
DEFAULT_LABEL = "default"
RESERVED_LABELS = frozenset({ERROR_LABEL, TIMEOUT_LABEL, DEFAULT_LABEL})


def _is_template(text: str) -> bool:
    return "{{" in text or "{%" in text


def _unique_labels(labels: list[str], what: str) -> list[str]:
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise ValueError(f"duplicate {what}: {', '.join(duplicates)}")
    reserved = sorted(RESERVED_LABELS.intersection(labels))
    if reserved:
        raise ValueError(f"{', '.join(reserved)} is reserved and cannot be one of the {what}")
    return labels


class KindConfig(GraphModel):
    """Base of the per-kind config models."""

    def labels(self) -> frozenset[str]:
        """The `when` labels this node can emit on success."""
        return frozenset()


# --- activities ---------------------------------------------------------------------------


class HttpAuth(GraphModel):
    """Credentials sent as the Authorization header: `basic` (username and password) or
    `bearer` (token). Each is a template, typically `{{ secrets.<name> }}`."""

    scheme: Literal["basic", "bearer"]
    username: str | None = None
    password: str | None = None
    token: str | None = None

    @model_validator(mode="after")
    def _fields_of_the_scheme(self) -> HttpAuth:
        if self.scheme == "basic" and (
            self.username is None or self.password is None or self.token is not None
        ):
            raise ValueError("basic auth takes username and password")
        if self.scheme == "bearer" and (
            self.token is None or self.username is not None or self.password is not None
        ):
            raise ValueError("bearer auth takes token")
        return self


class HttpConfig(KindConfig):
    """An HTTP request. Every field but `timeout` and `expect_status` is a template;
    secrets are referenced as `{{ secrets.<name> }}` in the url, headers, query, body
    or auth, and resolved in the activity, which sends them only to the hosts they
    are bound to."""

    method: str = Field(default="GET", description="HTTP method, or a template")
    url: str = Field(min_length=1)
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, Any] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json", description="A JSON request body")
    body: str | None = Field(default=None, description="A raw request body")
    timeout: Duration | None = Field(
        default=None, description="Per request; the node's timeout bounds all of it"
    )
    expect_status: list[int] | None = Field(
        default=None, description="Statuses that count as success; default any 2xx"
    )
    auth: HttpAuth | None = Field(
        default=None, description="Basic or bearer credentials for the Authorization header"
    )

    @field_validator("method")
    @classmethod
    def _known_method(cls, method: str) -> str:
        if _is_template(method):
            return method
        if method.upper() not in HTTP_METHODS:
            raise ValueError(
                f"unknown HTTP method {method!r}; use one of {', '.join(HTTP_METHODS)}"
            )
        return method.upper()

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://", "{{")):
            raise ValueError("url must start with http:// or https:// (or be a template)")
        return url

    @field_validator("expect_status")
    @classmethod
    def _status_codes(cls, statuses: list[int] | None) -> list[int] | None:
        bad = [status for status in statuses or () if not 100 <= status <= 599]
        if bad:
            raise ValueError(f"not HTTP status codes: {bad}")
        return statuses

    @model_validator(mode="after")
    def _one_body(self) -> HttpConfig:
        if self.json_body is not None and self.body is not None:
            raise ValueError("set json or body, not both")
        if self.auth is not None and any(name.lower() == "authorization" for name in self.headers):
            raise ValueError("set auth or an Authorization header, not both")
        return self


class Message(GraphModel):
    role: Literal["system", "user", "assistant"]
    content: str


REGISTRY_REFERENCE = r"^[A-Za-z][A-Za-z0-9_.-]{0,99}@[A-Za-z0-9_.-]{1,64}$"
"""`<name>@<alias or version>`: a prompt or model of the tenant's registry."""


DEFAULT_STALL_TIMEOUT = "30s"


def stall_timeout(kind: str, config: dict[str, Any]) -> timedelta | None:
    """The heartbeat timeout of a streamed llm call (None for any other activity)."""
    if kind != "llm" or config.get("stream") is not True:
        return None
    return parse_duration(config.get("stall_timeout") or DEFAULT_STALL_TIMEOUT)


class LlmConfig(KindConfig):
    """A chat completion through the model gateway. Give `route`, `model` or `model_ref`
    (none: the tenant's default route) and `prompt` or `messages`; with `response_schema`
    the reply must be JSON valid against it."""

    route: str | None = Field(default=None, min_length=1)
    model: str | None = Field(default=None, min_length=1)
    model_ref: str | None = Field(
        default=None,
        pattern=REGISTRY_REFERENCE,
        description="A registry model, <name>@<alias or version> (`classifier@production`): "
        "its route and settings; the alias is resolved once, when the run starts",
    )
    model_version: int | None = Field(
        default=None, ge=1, description="Set when the run starts: the version model_ref named"
    )
    prompt: str | None = Field(default=None, min_length=1)
    prompt_ref: str | None = Field(
        default=None,
        pattern=REGISTRY_REFERENCE,
        description="A registry prompt, <name>@<alias or version> (`triage@production`); "
        "the alias is resolved once, when the run starts",
    )
    prompt_version: int | None = Field(
        default=None, ge=1, description="Set when the run starts: the version prompt_ref named"
    )
    variables: dict[str, Any] | None = Field(
        default=None,
        description="What the registry prompt's template reads, by name (templates over the "
        'node\'s scope: {"ticket": "{{ inputs.ticket }}"})',
    )
    messages: list[Message] | None = Field(default=None, min_length=1)
    system: str | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)
    response_schema: dict[str, Any] | None = Field(
        default=None, description="JSON Schema of a structured reply"
    )
    stream: bool = Field(
        default=False,
        description="Stream the reply from the provider (the output is the same, assembled); "
        "a reply that sends nothing for stall_timeout fails the attempt, and it is retried",
    )
    stall_timeout: Duration | None = Field(
        default=None,
        description="With stream: the longest silence between two chunks, a heartbeat "
        f"timeout (default {DEFAULT_STALL_TIMEOUT})",
    )
    api_key: str | None = Field(
        default=None,
        description="The provider key to use instead of the platform's, as "
        "{{ secrets.<name> }}; the secret must be bound to every host of the route",
    )

    @field_validator("api_key")
    @classmethod
    def _a_secret(cls, api_key: str | None) -> str | None:
        if api_key is not None and whole_reference(api_key) is None:
            raise ValueError("api_key must be exactly {{ secrets.<name> }}")
        return api_key

    @model_validator(mode="after")
    def _one_of_each(self) -> LlmConfig:
        if [self.route, self.model, self.model_ref].count(None) < 2:
            raise ValueError("set one of route, model or model_ref")
        if self.model_ref is None and self.model_version is not None:
            raise ValueError("model_version goes with model_ref")
        if self.stall_timeout is not None and not self.stream:
            raise ValueError("stall_timeout goes with stream: true")
        if [self.prompt, self.messages, self.prompt_ref].count(None) != 2:
            raise ValueError("set exactly one of prompt, prompt_ref or messages")
        if self.prompt_ref is None and (
            self.prompt_version is not None or self.variables is not None
        ):
            raise ValueError("prompt_version and variables go with prompt_ref")
        return self


# --- pure, in the workflow ----------------------------------------------------------------


class TransformConfig(KindConfig):
    """Computes a value: `value` is any JSON whose strings are templates, or
    `expression` is one bare expression."""

    value: Any = None
    expression: str | None = Field(default=None, min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _value_or_expression(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            has_value = "value" in data
            has_expression = data.get("expression") is not None
            if has_expression and data.get("value") is not None:
                raise ValueError("set value or expression, not both")
            if not has_value and not has_expression:
                raise ValueError("set value or expression")
        return data


class ConditionConfig(KindConfig):
    """A bare expression; edges labelled `true` or `false` follow its truth."""

    expression: str = Field(min_length=1)

    def labels(self) -> frozenset[str]:
        return frozenset({"true", "false"})


class SwitchConfig(KindConfig):
    """A bare expression whose value picks the edge labelled with the equal case
    (compared as text), else the `default` edge."""

    expression: str = Field(min_length=1)
    cases: list[str] = Field(min_length=1)

    @field_validator("cases")
    @classmethod
    def _distinct_cases(cls, cases: list[str]) -> list[str]:
        return _unique_labels(cases, "cases")

    def labels(self) -> frozenset[str]:
        return frozenset([*self.cases, DEFAULT_LABEL])


class MergeConfig(KindConfig):
    """Joins branches: `all` waits for every incoming branch, `any` for the first."""

    mode: Literal["all", "any"] = "all"


class WaitConfig(KindConfig):
    """A durable timer: `duration`, or `until` (a template giving an ISO 8601 time)."""

    duration: Duration | None = None
    until: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _duration_or_until(self) -> WaitConfig:
        if (self.duration is None) == (self.until is None):
            raise ValueError("set exactly one of duration or until")
        return self


class ApprovalConfig(KindConfig):
    """A human task: opened in the assignees' inbox, decided by a `complete_task`
    Update. Emits the chosen outcome. On timeout, `on_timeout` says what happens:
    `fail`, one of the outcomes (`approve`/`reject` mean `approved`/`rejected`), or
    `timeout` to follow edges labelled `timeout`."""

    assignees: list[str] = Field(min_length=1, description='"user:<email>" or "role:<name>"')
    title: str | None = Field(default=None, description="Defaults to the node's label or id")
    description: str = ""
    form: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object"}, description="JSON Schema of the task data"
    )
    timeout: Duration | None = None
    on_timeout: str = "fail"
    outcomes: list[str] = Field(default_factory=lambda: ["approved", "rejected"], min_length=1)
    allow_starter: bool = Field(
        default=True,
        description="False: whoever started the run may not decide (separation of duties)",
    )

    @field_validator("assignees")
    @classmethod
    def _principals(cls, assignees: list[str]) -> list[str]:
        bad = [a for a in assignees if not a.startswith(("user:", "role:")) or len(a) < 6]
        if bad:
            raise ValueError(f'assignees must be "user:<email>" or "role:<name>", not {bad}')
        return assignees

    @field_validator("outcomes")
    @classmethod
    def _distinct_outcomes(cls, outcomes: list[str]) -> list[str]:
        return _unique_labels(outcomes, "outcomes")

    @model_validator(mode="after")
    def _known_timeout_outcome(self) -> ApprovalConfig:
        if self.on_timeout in ("fail", TIMEOUT_LABEL):
            return self
        if self.timeout_outcome() not in self.outcomes:
            raise ValueError(
                f"on_timeout {self.on_timeout!r} is not 'fail', 'timeout' or one of the "
                f"outcomes ({', '.join(self.outcomes)})"
            )
        return self

    def timeout_outcome(self) -> str | None:
        """The label emitted when the task times out; None means the node fails."""
        if self.on_timeout == "fail":
            return None
        aliases = {"approve": "approved", "reject": "rejected"}
        return aliases.get(self.on_timeout, self.on_timeout)

    def labels(self) -> frozenset[str]:
        timeout = {TIMEOUT_LABEL} if self.on_timeout == TIMEOUT_LABEL else set()
        return frozenset([*self.outcomes, *timeout])


# --- child workflows ----------------------------------------------------------------------


class SubgraphConfig(KindConfig):
    """Runs a pinned version of another graph as a child workflow; its result is this
    node's output."""

    graph_id: str = Field(min_length=1)
    version: str = Field(pattern=VERSION_ID_PATTERN, description="A graph version id")
    inputs: dict[str, Any] = Field(default_factory=dict, description="Templates")


class InlineNode(GraphModel):
    """The node a `foreach` runs per item (no id, edges or on_error of its own)."""

    type: str = Field(min_length=1)
    config: dict[str, Any] = Field(default_factory=dict)
    retry: RetrySpec | None = None
    timeout: Duration | None = None
    execution: ExecutionMode | None = None


class ForeachConfig(KindConfig):
    """Maps `node` over the list `items` evaluates to, `concurrency` at a time; the
    output is the list of results in input order. Lists longer than `batch_size` run
    in child workflows of `batch_size` items each. Inside `node`, `item` and `index`
    are in scope."""

    items: str = Field(min_length=1, description="A bare expression giving a list")
    node: InlineNode
    concurrency: int = Field(default=10, ge=1, le=500)
    batch_size: int = Field(default=200, ge=1, le=1000)


# --- registry -----------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeKind:
    """What the engine knows about one node kind."""

    name: str
    config_model: type[KindConfig]
    runs_as: RunsAs
    templates: tuple[str, ...] = ()
    """Config fields (JSON names) in which every string is a template."""
    expressions: tuple[str, ...] = ()
    """Config fields holding one bare expression."""
    credential_fields: tuple[str, ...] = ()
    """Template fields that send credentials: the only place `{{ secrets.<name> }}` may
    appear (resolved inside the activity, never in history; see `credentials`)."""
    local: bool = False
    """May set `execution: "local"`."""
    foreach_body: bool = False
    """May be the node a `foreach` runs per item."""

    @property
    def secrets(self) -> bool:
        """May reference secrets at all."""
        return bool(self.credential_fields)

    def parse_config(self, config: Mapping[str, Any]) -> KindConfig:
        """The validated config; raises pydantic's `ValidationError`."""
        return self.config_model.model_validate(config)


NODE_KINDS: dict[str, NodeKind] = {
    kind.name: kind
    for kind in (
        NodeKind(
            "http",
            HttpConfig,
            "activity",
            templates=("method", "url", "headers", "query", "json", "body", "auth"),
            credential_fields=("url", "headers", "query", "json", "body", "auth"),
            local=True,
            foreach_body=True,
        ),
        NodeKind(
            "llm",
            LlmConfig,
            "activity",
            templates=("prompt", "messages", "system", "api_key", "variables"),
            credential_fields=("api_key",),
            local=True,
            foreach_body=True,
        ),
        NodeKind(
            "transform",
            TransformConfig,
            "workflow",
            templates=("value",),
            expressions=("expression",),
            foreach_body=True,
        ),
        NodeKind("condition", ConditionConfig, "workflow", expressions=("expression",)),
        NodeKind("switch", SwitchConfig, "workflow", expressions=("expression",)),
        NodeKind("merge", MergeConfig, "workflow"),
        NodeKind("wait", WaitConfig, "workflow", templates=("until",)),
        NodeKind(
            "approval",
            ApprovalConfig,
            "workflow",
            templates=("title", "description", "assignees"),
        ),
        NodeKind(
            "subgraph", SubgraphConfig, "child_workflow", templates=("inputs",), foreach_body=True
        ),
        NodeKind("foreach", ForeachConfig, "workflow", expressions=("items",)),
    )
}
"""Every node kind, by name."""


def kind_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of every kind's config, with an `x-auterity` block saying how
    the kind runs and which fields are templates or expressions."""
    schemas: dict[str, dict[str, Any]] = {}
    for name, kind in NODE_KINDS.items():
        schema = kind.config_model.model_json_schema(by_alias=True)
        schema["x-auterity"] = {
            "runs_as": kind.runs_as,
            "templates": list(kind.templates),
            "expressions": list(kind.expressions),
            "secrets": kind.secrets,
            "credential_fields": list(kind.credential_fields),
            "local": kind.local,
        }
        schemas[name] = schema
    return schemas


def graph_schema() -> dict[str, Any]:
    """The JSON Schema of a graph, each node's `config` tied to the schema of its kind."""
    schema = Graph.model_json_schema(by_alias=True)
    definitions: dict[str, Any] = schema.setdefault("$defs", {})
    branches: list[dict[str, Any]] = []
    for name, kind in NODE_KINDS.items():
        config_schema = kind.config_model.model_json_schema(
            by_alias=True, ref_template="#/$defs/{model}"
        )
        definitions.update(config_schema.pop("$defs", {}))
        definitions[kind.config_model.__name__] = config_schema
        branches.append(
            {
                "if": {"properties": {"type": {"const": name}}, "required": ["type"]},
                "then": {
                    "properties": {"config": {"$ref": f"#/$defs/{kind.config_model.__name__}"}}
                },
            }
        )
    node_schema = definitions["Node"]
    node_schema["properties"]["type"]["enum"] = sorted(NODE_KINDS)
    node_schema["allOf"] = branches
    return schema
