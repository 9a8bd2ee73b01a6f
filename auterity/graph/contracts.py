"""What GraphWorkflow sends to the side-effect activities and gets back.

with workflow.unsafe.imports_passed_through():
    from auterity.graph import contracts as c
out = await workflow.execute_activity(
    c.NODE_ACTIVITIES[node.kind],  # "node.http" | "node.llm"
    c.NodeActivityInput(tenant=t, execution_id=workflow.info().workflow_id, graph_id=g,
                        version_id=v, node_id=node.id, kind=node.kind,
                        config=node.config,  # raw: templates are rendered in the activity
                        scope={"inputs": ..., "nodes": {id: {"output", "status"}},
                               "vars": ...}),
    result_type=c.NodeActivityOutput, start_to_close_timeout=..., retry_policy=...)
# out.output may be a blob ref (c.is_blob_ref): keep it as is; pass it on in scopes (activities
# resolve refs themselves); a transform/condition/switch whose scope holds one runs as the
# c.PURE_ACTIVITY with c.PureNodeInput -> c.PureNodeOutput (the value never enters history);
# an output the workflow computed above GraphRunInput.blob_threshold_bytes is stored by the
# c.BLOB_PUT local activity with c.BlobPutInput(tenant=t, value=v) -> a blob ref. Runs from
# before that read refs with c.BLOB_GET and c.BlobGetInput(tenant=t, ref=ref) -> the value.
# A foreach whose scope holds refs has its items evaluated by c.PURE_ACTIVITY (kind "items"),
# which stores a list over the run's threshold: each batch child then reads its own items with
# c.BLOB_SLICE and c.BlobSliceInput(tenant=t, ref=ref, offset=o, size=n) -> list.
# Approval: c.TASK_OPEN with c.OpenTaskInput(task_id=str(workflow.uuid4()), ...)
# -> c.OpenTaskOutput; once decided, timed out or cancelled: c.TASK_CLOSE with
# c.CloseTaskInput(...) -> None. `tenant` is the tenant slug (what workflow ids start with).
# Failures are ApplicationErrors typed HttpClientError (408/429 retryable), HttpServerError,
# HttpNetworkError, LlmProviderError, InvalidStructuredOutput (all retryable); non-retryable:
# HttpUnexpectedStatus, HttpRequestInvalid, HttpResponseTooLarge, ExpressionError,
# SecretNotFound, SecretRefused, EgressRefused, NodeConfigInvalid, UnknownRoute, UnknownModel,
# LlmRequestRejected, TenantNotFound, TaskNotFound, TaskRejected, BlobNotFound, BlobRefInvalid,
# BlobCorrupt, BlobSliceInvalid.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

HTTP_ACTIVITY = "node.http"
LLM_ACTIVITY = "node.llm"
TASK_OPEN = "task.open"
TASK_CLOSE = "task.close"
BLOB_GET = "blob.get"
BLOB_PUT = "blob.put"
BLOB_SLICE = "blob.slice"
PURE_ACTIVITY = "node.pure"
DEFAULT_BLOB_THRESHOLD_BYTES = 64 * 1024
AUDIT_PURGE = "audit.purge_expired"

NODE_ACTIVITIES: dict[str, str] = {"http": HTTP_ACTIVITY, "llm": LLM_ACTIVITY}
"""Node kind -> name of the activity that runs it."""

BLOB_KEY = "$blob"

TaskStatus = Literal["pending", "completed", "timed_out", "cancelled"]
ClosedTaskStatus = Literal["completed", "timed_out", "cancelled"]


class NodeActivityInput(BaseModel):
    """One node's side effect: the raw config plus the scope its templates read."""

    tenant: str
    execution_id: str = Field(description="The workflow id of the run")
    graph_id: str
    version_id: str
    node_id: str
    kind: str
    config: dict[str, Any] = Field(description="Raw node config; templates are not rendered")
    scope: dict[str, Any] = Field(
        default_factory=dict,
        description='{"inputs", "nodes": {id: {"output", "status"}}, "vars", "item"?, "index"?}',
    )


class NodeActivityOutput(BaseModel):
    """A node's output (possibly a blob ref), the attempt that produced it and, for llm
    nodes, usage and cost."""

    output: Any = None
    usage: dict[str, int] | None = None
    cost: float | None = None
    attempt: int | None = Field(
        default=None, description="The activity attempt that produced it (1 = first try)"
    )


class OpenTaskInput(BaseModel):
    """Record a human task in the tenant's inbox; opening the same task_id twice is a no-op."""

    tenant: str
    execution_id: str
    node_id: str
    task_id: str = Field(description="Deterministic: str(workflow.uuid4()) in the workflow")
    title: str
    description: str = ""
    assignees: list[str] = Field(default_factory=list)
    form: dict[str, Any] = Field(default_factory=dict, description="JSON Schema of the task data")
    due_at: datetime | None = None
    context: dict[str, Any] = Field(default_factory=dict)


class OpenTaskOutput(BaseModel):
    task_id: str
    created: bool = Field(description="False when the task already existed (a retried open)")


class CloseTaskInput(BaseModel):
    """Record how a human task ended; closing an already closed task keeps its first outcome."""

    tenant: str
    task_id: str
    status: ClosedTaskStatus
    decision: str | None = None
    comment: str | None = None
    data: dict[str, Any] | None = None
    actor: str | None = None


class BlobGetInput(BaseModel):
    """Fetch the JSON value behind a blob ref produced for this tenant."""

    tenant: str
    ref: dict[str, Any]


class BlobPutInput(BaseModel):
    """Store a value the workflow computed; run as a local activity, so it stays out of
    history."""

    tenant: str
    value: Any


class BlobSliceInput(BaseModel):
    """Read `size` items from `offset` of a list stored for this tenant (a foreach batch's
    items), so no run holds more of the list than its own part."""

    tenant: str
    ref: dict[str, Any]
    offset: int
    size: int


class PureNodeInput(BaseModel):
    """A transform, condition or switch whose scope holds blob refs, computed in an activity
    (which resolves the refs) so the stored values never enter the run's history; kind
    "render" renders the config fields of an approval or wait the same way, "concat"
    joins the lists in `scope["lists"]` (a large foreach's batch results), and "items"
    evaluates a foreach's `config.items` to its list."""

    tenant: str
    node_id: str
    kind: Literal["transform", "condition", "switch", "render", "concat", "items"]
    config: dict[str, Any] = Field(description='The config, or for "render" the fields to render')
    scope: dict[str, Any]
    compat_templates: bool = Field(
        default=False, description="Render like runs started before the template budget"
    )
    threshold_bytes: int | None = Field(
        default=None,
        description="Store an output whose JSON is larger (the run's threshold); unset: the "
        "worker's",
    )


class PureNodeOutput(BaseModel):
    """The node's output (a blob ref when large), the label it emitted and, for "items",
    how many items the list holds (stored or not)."""

    output: Any = None
    label: str | None = None
    count: int | None = None


def blob_ref(key: str, size: int, sha256: str) -> dict[str, Any]:
    """The reference that travels in history instead of a large value."""
    return {BLOB_KEY: key, "size": size, "sha256": sha256}


def is_blob_ref(value: object) -> bool:
    """True for `{"$blob": "<key>", "size": int, "sha256": str}`."""
    return (
        isinstance(value, dict)
        and isinstance(value.get(BLOB_KEY), str)
        and isinstance(value.get("size"), int)
        and isinstance(value.get("sha256"), str)
        and set(value) == {BLOB_KEY, "size", "sha256"}
    )


class AuditRetentionInput(BaseModel):
    """What `AuditRetentionWorkflow` and its `AUDIT_PURGE` activity take."""

    tenant: str | None = Field(default=None, description="one tenant's slug; every tenant if None")


class AuditRetentionOutput(BaseModel):
    tenants: int = 0
    deleted: int = 0
    refused: list[str] = Field(
        default_factory=list, description="tenants whose chain does not verify: nothing deleted"
    )
