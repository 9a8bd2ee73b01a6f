"""The contract of a graph run: what starts `GraphWorkflow`, what it returns, what its
`state` query shows and what its `complete_task` Update takes.

The API starts a run with `GraphRunInput` (workflow type `WORKFLOW_NAME`, ids and
search attributes from `auterity.graph.naming`), watches it with the `QUERY_STATE` query
(`RunState`), delivers human decisions with the `UPDATE_COMPLETE_TASK` Update
(`TaskDecision` → `TaskCompletion`) and reads a `GraphRunResult`. A run whose
node fails under `on_error: "fail"` fails with `ApplicationError` type
`ErrorType.NODE_FAILED`, details `[{"node": <id>, "error": {...}}]`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from auterity.graph.compiler import ExecutionPlan, PlanNode
from auterity.graph.contracts import DEFAULT_BLOB_THRESHOLD_BYTES

WORKFLOW_NAME = "GraphWorkflow"
QUERY_STATE = "state"
UPDATE_COMPLETE_TASK = "complete_task"

NodeStatus = Literal["pending", "running", "succeeded", "failed", "skipped", "cancelled"]
FINISHED: frozenset[str] = frozenset({"succeeded", "failed", "skipped", "cancelled"})
RunStatus = Literal["running", "succeeded", "failed", "cancelled"]


class RunModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NodeError(RunModel):
    """Why a node failed: the failure type (`HttpClientError`, `ExpressionError`, …)."""

    type: str
    message: str
    details: Any = None


class NodeState(RunModel):
    """One node in one run, as the `state` query and the result show it."""

    status: NodeStatus = "pending"
    output: Any = None
    error: NodeError | None = None
    label: str | None = Field(default=None, description="The when label it emitted")
    attempts: int | None = Field(default=None, description="None when Temporal did not say")
    started_at: datetime | None = None
    finished_at: datetime | None = None
    reused: bool = Field(default=False, description="Taken from an earlier run (retry)")
    released: bool = Field(
        default=False, description="Output dropped at continue-as-new: nothing read it any more"
    )

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


class ForeachBatch(RunModel):
    """A slice of a large foreach, run by a child GraphWorkflow."""

    node: PlanNode = Field(description="The foreach node")
    items: list[Any] = Field(default_factory=list, description="Empty when `stored` is set")
    offset: int = Field(ge=0, description="Index of the first item in the whole list")
    stored: dict[str, Any] | None = Field(
        default=None,
        description="A blob ref to the whole list, when it was stored: the batch reads its "
        "`size` items from `offset` with `blob.slice`",
    )
    size: int = Field(default=0, ge=0, description="How many items to read from `stored`")
    scope: dict[str, Any] = Field(description="inputs, vars and the nodes the body reads")
    execution_id: str = Field(description="The workflow id of the run the foreach belongs to")


class GraphRunInput(RunModel):
    """Everything one run needs; the plan is pinned, so editing the graph changes nothing."""

    tenant: str
    graph_id: str
    version_id: str
    plan: ExecutionPlan
    inputs: dict[str, Any] = Field(default_factory=dict)
    vars: dict[str, Any] = Field(
        default_factory=dict, description="Overrides the graph's vars by name"
    )
    trigger: str | None = Field(default=None, description="api, webhook, schedule, builder, …")
    subgraphs: dict[str, ExecutionPlan] = Field(
        default_factory=dict,
        description="Plans of every graph version a subgraph node may run, by version id",
    )
    reuse_outputs: dict[str, NodeState] = Field(
        default_factory=dict,
        description="Retry from the failed node: succeeded nodes of the earlier run, not re-run",
    )
    carried: dict[str, NodeState] = Field(
        default_factory=dict, description="Finished nodes carried over a continue-as-new"
    )
    continued: int = Field(default=0, ge=0, description="Continue-as-new count so far")
    max_history_events: int | None = Field(
        default=None,
        ge=1,
        description="Continue as new past this many history events (besides Temporal's hint)",
    )
    batch: ForeachBatch | None = Field(
        default=None, description="Set when this run is one batch of a large foreach"
    )
    blob_threshold_bytes: int = Field(
        default=DEFAULT_BLOB_THRESHOLD_BYTES,
        ge=1024,
        description="Outputs the workflow computes whose JSON is larger go to the blob store",
    )
    llm_task_queue: str | None = Field(
        default=None,
        description="Task queue of the run's llm node activities (AUTERITY_LLM_TASK_QUEUE), "
        "so that only workers polling it import LiteLLM; None: the run's own",
    )


class GraphRunResult(RunModel):
    """A finished run: every node's state, and the outputs of its final nodes."""

    status: Literal["succeeded"] = "succeeded"
    nodes: dict[str, NodeState] = Field(default_factory=dict)
    output: Any = Field(
        default=None,
        description="Final (no outgoing edge) succeeded nodes' outputs by id; for a foreach "
        "batch, the list of item results",
    )


class TaskDecision(RunModel):
    """A human's decision on an approval task (the `complete_task` Update)."""

    task_id: str
    decision: str
    comment: str | None = None
    data: dict[str, Any] | None = None
    actor: str | None = Field(default=None, description='"user:<email>"')


class TaskCompletion(RunModel):
    task_id: str
    node_id: str
    decision: str


class PendingTask(RunModel):
    """An approval task the run waits on."""

    task_id: str
    node_id: str
    outcomes: list[str]
    assignees: list[str]
    due_at: datetime | None = None


class RunState(RunModel):
    """The live state of a run (the `state` query)."""

    status: RunStatus
    nodes: dict[str, NodeState]
    tasks: list[PendingTask] = Field(default_factory=list)
    continued: int = Field(default=0, description="How many times the run continued as new")
    error: NodeError | None = None
    failed_node: str | None = None
