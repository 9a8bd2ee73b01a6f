"""`GraphWorkflow`: the one Temporal workflow that interprets every compiled graph.

It starts every node whose inputs are decided, all at once (see
`workflows.scheduler` for edges, joins and skipping). `transform`, `condition`,
`switch` and `merge` are computed in workflow code; `wait` is a durable timer;
`http` and `llm` are activities (local activities with `execution: "local"`)
carrying the node's retry policy and timeout, with the node's id as activity id
(`each[3]` for item 3 of a foreach);
`approval` opens a human task and waits for the `complete_task` Update or its
timeout; `subgraph` is a child run; `foreach` maps its body over a list with a
concurrency limit, in child runs of `batch_size` items when the list is longer; a
batch stores its results when they pass the blob threshold, and the parent then joins
the stored lists with `node.pure`, so items' results never pile up in its history. Items
over a scope holding blob refs are evaluated by `node.pure` too: a list over the threshold
is stored, the parent learns its ref and length, and each batch reads only its own items
(`blob.slice`).

A node that fails under `on_error: "fail"` cancels the running nodes and fails
the run with `ApplicationError` type `NodeFailed` naming the node. The `state`
query shows every node's live state. When Temporal suggests it (or past
`max_history_events`), the run stops starting nodes, lets the running ones
finish and continues as new, carrying the finished nodes' states and only the
outputs later nodes still read.

A node's `timeout` bounds one attempt of an http/llm activity and a subgraph's
whole child run; a foreach body sets its own; approvals use their config's
`timeout`. Defaults when a node sets none: activities time out after 5 minutes
per attempt and are tried 3 times (1s, 2s backoff).

Failures of activities (the node's own, or opening a task, or reading a blob)
fail the node, never the workflow task; any other exception is a bug in this
interpreter and fails the workflow task, which Temporal retries until fixed.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, TypedSearchAttributes
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    ChildWorkflowError,
    RetryState,
)
from temporalio.exceptions import CancelledError as TemporalCancelled
from temporalio.exceptions import TimeoutError as TemporalTimeout

with workflow.unsafe.imports_passed_through():
    from auterity.graph import contracts, naming
    from auterity.graph.compiler import ExecutionPlan, PlanNode
    from auterity.graph.engine import to_text
    from auterity.graph.errors import ErrorType
    from auterity.graph.expressions import ENGINE_MODULES, Budget
    from auterity.graph.kinds import (
        ApprovalConfig,
        ForeachConfig,
        SubgraphConfig,
        WaitConfig,
        stall_timeout,
    )
    from auterity.graph.model import RetrySpec, parse_duration
    from auterity.graph.pure import CONCAT, ITEMS, RENDER, render_fields, run_items
    from auterity.graph.references import (
        PINNED_MEMO,
        PINNED_REFERENCES_MEMO,
        REGISTRY_PIN,
        PinInput,
        PinOutput,
        pin,
        pinned_versions,
        references,
    )
    from auterity.graph.run import (
        QUERY_STATE,
        UPDATE_COMPLETE_TASK,
        WORKFLOW_NAME,
        ForeachBatch,
        GraphRunInput,
        GraphRunResult,
        NodeError,
        NodeState,
        PendingTask,
        RunState,
        RunStatus,
        TaskCompletion,
        TaskDecision,
    )
    from workflows.pure import PURE_KINDS, NodeFailure, NodeOutcome, render_field, run_merge
    from workflows.scheduler import (
        final_nodes,
        next_steps,
        node_scope,
        still_read,
        taken_sources,
    )

    for _module in ENGINE_MODULES:  # Jinja imports these while compiling a template
        __import__(_module)

DEFAULT_TIMEOUT = timedelta(minutes=5)
DEFAULT_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3)
TASK_TIMEOUT = timedelta(seconds=30)
TASK_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))
"""Opening and closing human tasks: short database writes, retried until they land."""
BLOB_RETRY = RetryPolicy(maximum_attempts=5)
EXECUTIONS_STARTED = "auterity_executions_started_total"
EXECUTIONS_COMPLETED = "auterity_executions_completed_total"
EXECUTIONS_FAILED = "auterity_executions_failed_total"
NODE_DURATION = "auterity_node_duration_seconds"
METRIC_HELP = {
    EXECUTIONS_STARTED: "Runs that began (once per run, not again on continue-as-new)",
    EXECUTIONS_COMPLETED: "Runs that finished successfully",
    EXECUTIONS_FAILED: "Runs that finished failed",
    NODE_DURATION: "Seconds from a node's start to its end, by kind and outcome",
}
"""The worker's metrics (`monitoring/METRICS.md`), served with the Temporal SDK's own."""
BLOB_PUT_TIMEOUT = timedelta(minutes=1)
BLOB_PATCH = "blob-offload"
"""Runs started before it read blob refs into the workflow with `blob.get` (the value went
into history) and kept the outputs they computed inline, however large."""
TEMPLATE_BUDGET_PATCH = "template-budget"
"""Runs started before it render templates as they did (`Budget(compat=True)`): Python's
`str` for objects in text, and only lookups, calls, operators and `range` counted."""
PIN_REFERENCES_PATCH = "pin-registry-references"
"""Runs started before it with unpinned registry references did not pin them (their llm
nodes failed); runs since pin them with the `registry.pin` local activity first."""
NODE_ACTIVITY_ID_PATCH = "node-activity-ids"
"""Runs started before it asked `TEMPLATE_BUDGET_PATCH` as they began and labelled each
node activity with a summary, Temporal numbering its id. Later runs name a node activity by
its node (no payload to encode), take the template budget as given, and ask this once,
where it first matters (a node activity or a template). A patch marker must be matched
where it was recorded, so a run still asks `TEMPLATE_BUDGET_PATCH` as it begins, but only
while replaying: there the answer is what its history recorded (no marker is written),
and a run that begins live is new, so it needs no marker for it."""
STORED_ITEMS_PATCH = "stored-foreach-items"
"""Runs started before it evaluated a foreach's items over a scope holding blob refs in the
workflow, reading the refs with `blob.get` (the whole list went into history), and gave each
batch its items in its input. Later runs have `node.pure` evaluate them: a list over the
run's threshold is stored, the run learns its ref and length, and batches read their own
items with `blob.slice`. Asked only where a foreach's scope holds a ref."""


@workflow.defn(name=WORKFLOW_NAME)
class GraphWorkflow:
    """Runs one pinned graph version; see the module docstring."""

    @workflow.init
    def __init__(self, request: GraphRunInput) -> None:
        self._request = request
        self._plan: ExecutionPlan = request.plan
        self._vars = {**request.plan.vars, **request.vars}
        self._states: dict[str, NodeState] = {
            node_id: NodeState.model_construct() for node_id in self._plan.nodes
        }
        for node_id, state in request.carried.items():
            if node_id in self._states and state.finished:
                self._states[node_id] = state
        for node_id, state in request.reuse_outputs.items():
            if node_id in self._states and state.status == "succeeded":
                self._states[node_id] = state.model_copy(update={"reused": True})
        self._tasks: dict[str, PendingTask] = {}
        self._decisions: dict[str, TaskDecision] = {}
        self._finished_tasks: set[str] = set()
        self._blobs: dict[str, Any] = {}
        self._status: RunStatus = "running"
        self._failed: tuple[str, NodeError] | None = None
        self._progressed = False
        self._node_finished = asyncio.Event()
        self._node_ids: bool | None = None
        self._compat: bool | None = None
        self._budget_patched = False
        self._durations: Any = None

    # --- the run ----------------------------------------------------------------------

    @workflow.run
    async def run(self, request: GraphRunInput) -> GraphRunResult:
        if workflow.unsafe.is_replaying():  # see NODE_ACTIVITY_ID_PATCH
            self._budget_patched = workflow.patched(TEMPLATE_BUDGET_PATCH)
        if request.batch is not None:
            return await self._run_batch(request.batch)
        if request.continued == 0:
            self._count(EXECUTIONS_STARTED, trigger=request.trigger or naming.Trigger.API)
        running: dict[str, asyncio.Task[None]] = {}
        draining = False
        try:
            if request.continued == 0:
                await self._pin_references()
            while True:
                draining = draining or self._should_continue_as_new()
                if not draining:
                    for node_id in self._advance():
                        node = self._plan.nodes[node_id]
                        running[node_id] = asyncio.create_task(self._run_node(node))
                if not running:
                    break
                await self._node_finished.wait()
                self._node_finished.clear()
                for node_id in [node_id for node_id, task in running.items() if task.done()]:
                    running.pop(node_id).result()
                    self._progressed = True
                if self._failed is not None:
                    await _cancel(running.values())
                    self._count(EXECUTIONS_FAILED)
                    raise self._run_failure(*self._failed)
        except asyncio.CancelledError:
            self._status = "cancelled"
            await _cancel(running.values())
            raise
        unfinished = [node_id for node_id, state in self._states.items() if not state.finished]
        if unfinished:
            if not draining:
                raise RuntimeError(f"graph run stalled with unfinished nodes: {unfinished}")
            await workflow.wait_condition(workflow.all_handlers_finished)
            workflow.continue_as_new(self._continuation())
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._status = "succeeded"
        self._count(EXECUTIONS_COMPLETED)
        outputs = {
            node_id: self._states[node_id].output
            for node_id in final_nodes(self._plan)
            if self._states[node_id].status == "succeeded"
        }
        return GraphRunResult(nodes=self._states, output=outputs)

    async def _pin_references(self) -> None:
        """Pins the registry references the run started with unpinned (a schedule's input
        names aliases), once, before any node runs; the pinned plan is carried over a
        continue-as-new and the versions are recorded in the run's memo."""
        plans = [self._plan, *self._request.subgraphs.values()]
        wanted = {r.key(): r for plan in plans for r in references(plan, unpinned_only=True)}
        if not wanted or not workflow.patched(PIN_REFERENCES_PATCH):
            return
        try:
            pinned = await workflow.execute_local_activity(
                REGISTRY_PIN,
                PinInput(tenant=self._request.tenant, references=list(wanted.values())),
                result_type=PinOutput,
                start_to_close_timeout=TASK_TIMEOUT,
                retry_policy=TASK_RETRY,
                summary="pin registry references",
            )
        except ActivityError as error:
            cause = error.cause
            message = cause.message if isinstance(cause, ApplicationError) else str(error)
            self._status = "failed"
            self._count(EXECUTIONS_FAILED)
            raise ApplicationError(
                message, type=ErrorType.NODE_CONFIG_INVALID, non_retryable=True
            ) from None
        self._plan = pin(self._plan, pinned.versions)
        subgraphs = {
            key: pin(plan, pinned.versions) for key, plan in self._request.subgraphs.items()
        }
        self._request = self._request.model_copy(
            update={"plan": self._plan, "subgraphs": subgraphs}
        )
        workflow.upsert_memo(
            {PINNED_MEMO: pinned_versions(self._plan), PINNED_REFERENCES_MEMO: pinned.versions}
        )

    def _advance(self) -> list[str]:
        """Marks newly skipped nodes and returns the nodes to start, marked running."""
        steps = next_steps(self._plan, self._states)
        now = workflow.now()
        for node_id in steps.skip:
            self._states[node_id] = NodeState(status="skipped", finished_at=now)
        for node_id in steps.run:
            self._states[node_id] = NodeState(status="running", started_at=now)
        return steps.run

    async def _run_node(self, node: PlanNode) -> None:
        """Runs one node and records how it ended; wakes the scheduler either way."""
        try:
            outcome = await self._execute(node)
            output = outcome.output
            if node.kind not in contracts.NODE_ACTIVITIES:
                output = await self._offloaded(node.id, output)
            self._finish(
                node.id,
                status="succeeded",
                output=output,
                label=outcome.label,
                attempts=outcome.attempts,
            )
        except NodeFailure as failure:
            self._fail_node(node, failure)
        except asyncio.CancelledError:
            self._finish(node.id, status="cancelled")
            raise
        finally:
            self._node_finished.set()
        self._record_duration(node)

    # --- metrics (the runtime's meter records nothing while replaying) ----------------

    def _count(self, name: str, **labels: str) -> None:
        """Adds one to a run counter, labelled with the run's tenant and graph."""
        workflow.metric_meter().create_counter(name, METRIC_HELP[name]).add(
            1, {"tenant": self._request.tenant, "graph": self._request.graph_id, **labels}
        )

    def _record_duration(self, node: PlanNode) -> None:
        state = self._states[node.id]
        if state.status not in ("succeeded", "failed") or state.started_at is None:
            return
        finished = state.finished_at or workflow.now()
        if self._durations is None:
            self._durations = workflow.metric_meter().create_histogram_float(
                NODE_DURATION, METRIC_HELP[NODE_DURATION]
            )
        self._durations.record(
            max(0.0, (finished - state.started_at).total_seconds()),
            {"kind": node.kind, "outcome": state.status},
        )

    def _finish(self, node_id: str, **fields: Any) -> None:
        state = self._states[node_id]
        for name, value in fields.items():
            setattr(state, name, value)
        state.finished_at = workflow.now()

    def _fail_node(self, node: PlanNode, failure: NodeFailure) -> None:
        error = NodeError(type=failure.type, message=failure.message, details=failure.details)
        self._finish(
            node.id,
            status="failed",
            error=error,
            output=error.model_dump() if node.on_error == "continue" else None,
            label="error" if node.on_error == "error" else None,
            attempts=failure.attempts,
        )
        if node.on_error == "fail" and self._failed is None:
            self._failed = (node.id, error)

    def _run_failure(self, node_id: str, error: NodeError) -> ApplicationError:
        self._status = "failed"
        return ApplicationError(
            f"node {node_id!r} failed: {error.type}: {error.message}",
            {"node": node_id, "error": error.model_dump()},
            type=ErrorType.NODE_FAILED,
            non_retryable=True,
        )

    # --- continue-as-new --------------------------------------------------------------

    def _should_continue_as_new(self) -> bool:
        if not self._progressed:
            return False
        info = workflow.info()
        if info.is_continue_as_new_suggested():
            return True
        limit = self._request.max_history_events
        return limit is not None and info.get_current_history_length() >= limit

    def _continuation(self) -> GraphRunInput:
        needed = still_read(self._plan, self._states)
        carried = {}
        for node_id, state in self._states.items():
            if not state.finished:
                continue
            if node_id not in needed and state.output is not None:
                state = state.model_copy(update={"output": None, "released": True})
            carried[node_id] = state
        return self._request.model_copy(
            update={
                "carried": carried,
                "reuse_outputs": {},
                "continued": self._request.continued + 1,
            }
        )

    # --- observing and deciding -------------------------------------------------------

    @workflow.query(name=QUERY_STATE)
    def state(self) -> RunState:
        """Every node's live state and the human tasks the run waits on."""
        failed_node, error = self._failed if self._failed else (None, None)
        return RunState(
            status=self._status,
            nodes=self._states,
            tasks=list(self._tasks.values()),
            continued=self._request.continued,
            error=error,
            failed_node=failed_node,
        )

    @workflow.update(name=UPDATE_COMPLETE_TASK)
    def complete_task(self, decision: TaskDecision) -> TaskCompletion:
        """Delivers a human decision to the approval node waiting for it."""
        task = self._tasks[decision.task_id]
        self._decisions[decision.task_id] = decision
        return TaskCompletion(
            task_id=task.task_id, node_id=task.node_id, decision=decision.decision
        )

    @complete_task.validator
    def _check_decision(self, decision: TaskDecision) -> None:
        if decision.task_id in self._finished_tasks or decision.task_id in self._decisions:
            raise ValueError(f"task {decision.task_id} is already finished")
        task = self._tasks.get(decision.task_id)
        if task is None:
            raise ValueError(f"unknown task {decision.task_id}")
        if decision.decision not in task.outcomes:
            raise ValueError(
                f"decision {decision.decision!r} is not one of {', '.join(task.outcomes)}"
            )

    # --- nodes ------------------------------------------------------------------------

    async def _execute(self, node: PlanNode) -> NodeOutcome:
        if node.kind in contracts.NODE_ACTIVITIES:
            return await self._activity(
                node.id,
                node.kind,
                node.config,
                self._scope(node),
                timeout=node.timeout_delta(),
                retry=node.retry,
                local=node.execution == "local",
                label=node.id,
            )
        if node.kind in PURE_KINDS:
            return await self._pure(node.id, node.kind, node.config, self._scope(node))
        if node.kind == "merge":
            sources = taken_sources(self._plan, node, self._states)
            return run_merge({source: self._states[source].output for source in sources})
        if node.kind == "wait":
            return await self._wait(node)
        if node.kind == "approval":
            return await self._approval(node)
        if node.kind == "subgraph":
            scope = await self._resolved(self._scope(node))
            return await self._subgraph(node.id, node.config, scope, node.timeout_delta())
        if node.kind == "foreach":
            return await self._foreach(node)
        raise RuntimeError(f"node {node.id!r}: the plan has unknown kind {node.kind!r}")

    def _scope(self, node: PlanNode) -> dict[str, Any]:
        return node_scope(node, self._states, self._request.inputs, self._vars)

    def _names_node_activities(self) -> bool:
        """Whether node activities take their node's id (see `NODE_ACTIVITY_ID_PATCH`)."""
        if self._node_ids is None:
            self._node_ids = workflow.patched(NODE_ACTIVITY_ID_PATCH)
        return self._node_ids

    @property
    def _compat_templates(self) -> bool:
        """Whether templates render as before the budget (`TEMPLATE_BUDGET_PATCH`)."""
        if self._compat is None:
            self._compat = not (self._names_node_activities() or self._budget_patched)
        return self._compat

    def _budget(self) -> Budget:
        """A node's template work budget: steps only (no clock in workflow code)."""
        return Budget(compat=self._compat_templates)

    def _text(self, value: Any) -> str:
        """A rendered value as text: JSON for objects (Python's `str` in compat runs)."""
        return str(value) if self._compat_templates else to_text(value)

    async def _resolved(self, value: Any) -> Any:
        """`value` with blob refs replaced by their values, for expressions in the workflow."""
        if contracts.is_blob_ref(value):
            key = value[contracts.BLOB_KEY]
            if key not in self._blobs:
                self._blobs[key] = await _call_activity(
                    contracts.BLOB_GET,
                    contracts.BlobGetInput(tenant=self._request.tenant, ref=value),
                    timeout=timedelta(minutes=1),
                    retry=BLOB_RETRY,
                    summary=f"read blob {key}",
                )
            return self._blobs[key]
        if isinstance(value, dict):
            return {key: await self._resolved(item) for key, item in value.items()}
        if isinstance(value, list):
            return [await self._resolved(item) for item in value]
        return value

    def _blob_aware(self) -> bool:
        """Whether this run keeps stored values out of its history (see `BLOB_PATCH`).

        Asked only where the answer matters, so runs that never meet a large value
        record no marker."""
        return workflow.patched(BLOB_PATCH)

    async def _pure(
        self,
        node_id: str,
        kind: str,
        config: dict[str, Any],
        scope: dict[str, Any],
        index: int | None = None,
    ) -> NodeOutcome:
        """A transform, condition or switch: computed here, or by the `node.pure` activity
        when its scope holds blob refs, so their values never enter this run's history."""
        compute = (
            (lambda fields, values, budget: NodeOutcome(render_fields(fields, values, budget)))
            if kind == RENDER
            else PURE_KINDS[kind]
        )
        if not _holds_ref(scope):
            return compute(config, scope, self._budget())
        if not self._blob_aware():
            return compute(config, await self._resolved(scope), self._budget())
        suffix = "" if index is None else f"[{index}]"
        result = await self._computed_outside(
            node_id, kind, config, scope, f"{node_id}{suffix} ({kind} over stored values)"
        )
        return NodeOutcome(output=result.output, label=result.label)

    async def _computed_outside(
        self,
        node_id: str,
        kind: str,
        config: dict[str, Any],
        scope: dict[str, Any],
        summary: str,
        threshold_bytes: int | None = None,
    ) -> contracts.PureNodeOutput:
        """`kind` computed by the `node.pure` activity, which reads the scope's blob refs
        there and stores a large output, so neither enters this run's history."""
        result: contracts.PureNodeOutput = await _call_activity(
            contracts.PURE_ACTIVITY,
            contracts.PureNodeInput(
                tenant=self._request.tenant,
                node_id=node_id,
                kind=kind,  # type: ignore[arg-type]
                config=config,
                scope=scope,
                compat_templates=self._compat_templates,
                threshold_bytes=threshold_bytes,
            ),
            result_type=contracts.PureNodeOutput,
            timeout=DEFAULT_TIMEOUT,
            retry=BLOB_RETRY,
            summary=summary,
        )
        return result

    async def _rendered(
        self, node_id: str, fields: dict[str, Any], scope: dict[str, Any]
    ) -> dict[str, Any]:
        """A node's config fields rendered over its scope: here, or by `node.pure` when the
        scope holds blob refs (see `_pure`)."""
        rendered = (await self._pure(node_id, RENDER, fields, scope)).output
        if contracts.is_blob_ref(rendered):  # fields too large to travel: read them back
            rendered = await self._resolved(rendered)
        return dict(rendered)

    async def _offloaded(self, node_id: str, value: Any) -> Any:
        """`value`, or a blob ref to it when its JSON exceeds the run's threshold; stored by
        a local activity, whose input is not written to history."""
        if not isinstance(value, dict | list | str) or contracts.is_blob_ref(value):
            return value
        threshold = self._request.blob_threshold_bytes
        if isinstance(value, str) and len(value) * 4 <= threshold:
            return value
        size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str))
        if size <= threshold or not self._blob_aware():
            return value
        return await _call_activity(
            contracts.BLOB_PUT,
            contracts.BlobPutInput(tenant=self._request.tenant, value=value),
            timeout=BLOB_PUT_TIMEOUT,
            retry=BLOB_RETRY,
            summary=f"{node_id} (store large output)",
            local=True,
        )

    async def _activity(
        self,
        node_id: str,
        kind: str,
        config: dict[str, Any],
        scope: dict[str, Any],
        *,
        timeout: timedelta | None,
        retry: RetrySpec | None,
        local: bool,
        label: str,
    ) -> NodeOutcome:
        """Runs a node's activity, named `label` (the node id, `id[index]` for an item)."""
        request = contracts.NodeActivityInput(
            tenant=self._request.tenant,
            execution_id=self._execution_id(),
            graph_id=self._request.graph_id,
            version_id=self._request.version_id,
            node_id=node_id,
            kind=kind,
            config=config,
            scope=scope,
        )
        result = await _call_activity(
            contracts.NODE_ACTIVITIES[kind],
            request,
            result_type=contracts.NodeActivityOutput,
            timeout=timeout or DEFAULT_TIMEOUT,
            retry=retry.to_retry_policy() if retry else DEFAULT_RETRY,
            local=local,
            task_queue=self._activity_queue(kind, local),
            heartbeat=stall_timeout(kind, config),
            **(
                {"activity_id": label}
                if self._names_node_activities()
                else {"summary": f"{label} ({kind})"}
            ),
        )
        return NodeOutcome(output=result.output, attempts=result.attempt)

    def _activity_queue(self, kind: str, local: bool) -> str | None:
        """The task queue of a node's activity: llm nodes' own (`llm_task_queue`), whose
        workers are the only ones that import LiteLLM, else the run's. A local activity runs
        in the workflow's worker. Only runs started with the setting carry it, so running
        workflows issue the commands they did: no patch."""
        if kind == "llm" and not local:
            return self._request.llm_task_queue
        return None

    async def _wait(self, node: PlanNode) -> NodeOutcome:
        config = WaitConfig.model_validate(node.config)
        now = workflow.now()
        if config.duration is not None:
            until = now + parse_duration(config.duration)
        else:
            rendered = await self._rendered(node.id, {"until": config.until}, self._scope(node))
            until = _timestamp(rendered["until"])
        if until > now:
            await workflow.sleep(until - now, summary=f"{node.id} (wait)")
        return NodeOutcome(output={"until": until.isoformat()})

    async def _approval(self, node: PlanNode) -> NodeOutcome:
        config = ApprovalConfig.model_validate(node.config)
        fields = {
            "title": config.title or node.label or node.id,
            "description": config.description,
            "assignees": config.assignees,
        }
        rendered = await self._rendered(node.id, fields, self._scope(node))
        title, description, assignees = (rendered[name] for name in fields)
        timeout = parse_duration(config.timeout) if config.timeout else None
        task_id = str(workflow.uuid4())
        due_at = workflow.now() + timeout if timeout else None
        await _call_activity(
            contracts.TASK_OPEN,
            contracts.OpenTaskInput(
                tenant=self._request.tenant,
                execution_id=self._execution_id(),
                node_id=node.id,
                task_id=task_id,
                title=self._text(title),
                description=self._text(description),
                assignees=[self._text(assignee) for assignee in assignees],
                form=config.form,
                due_at=due_at,
                context={
                    "graph_id": self._request.graph_id,
                    "version_id": self._request.version_id,
                },
            ),
            result_type=contracts.OpenTaskOutput,
            timeout=TASK_TIMEOUT,
            retry=TASK_RETRY,
            summary=f"{node.id} (approval: open task)",
        )
        self._tasks[task_id] = PendingTask(
            task_id=task_id,
            node_id=node.id,
            outcomes=config.outcomes,
            assignees=[self._text(assignee) for assignee in assignees],
            due_at=due_at,
        )
        try:
            await workflow.wait_condition(
                lambda: task_id in self._decisions,
                timeout=timeout,
                timeout_summary=f"{node.id} (approval timeout)",
            )
        except TimeoutError:
            return await self._approval_timed_out(node, config, task_id)
        except asyncio.CancelledError:
            await self._close_task(node, task_id, "cancelled")
            raise
        decision = self._decisions[task_id]
        await self._close_task(node, task_id, "completed", decision)
        return NodeOutcome(
            output={"task_id": task_id, **decision.model_dump(exclude={"task_id"})},
            label=decision.decision,
        )

    async def _approval_timed_out(
        self, node: PlanNode, config: ApprovalConfig, task_id: str
    ) -> NodeOutcome:
        outcome = config.timeout_outcome()
        await self._close_task(node, task_id, "timed_out", outcome=outcome)
        if outcome is None:
            raise NodeFailure(ErrorType.APPROVAL_TIMED_OUT, f"no decision within {config.timeout}")
        return NodeOutcome(
            output={"task_id": task_id, "decision": outcome, "timed_out": True}, label=outcome
        )

    async def _close_task(
        self,
        node: PlanNode,
        task_id: str,
        status: contracts.ClosedTaskStatus,
        decision: TaskDecision | None = None,
        outcome: str | None = None,
    ) -> None:
        self._tasks.pop(task_id, None)
        self._finished_tasks.add(task_id)
        await _call_activity(
            contracts.TASK_CLOSE,
            contracts.CloseTaskInput(
                tenant=self._request.tenant,
                task_id=task_id,
                status=status,
                decision=decision.decision if decision else outcome,
                comment=decision.comment if decision else None,
                data=decision.data if decision else None,
                actor=decision.actor if decision else None,
            ),
            timeout=TASK_TIMEOUT,
            retry=TASK_RETRY,
            summary=f"{node.id} (approval: close task)",
        )

    async def _subgraph(
        self,
        node_id: str,
        config: dict[str, Any],
        scope: dict[str, Any],
        timeout: timedelta | None,
        index: int | None = None,
    ) -> NodeOutcome:
        parsed = SubgraphConfig.model_validate(config)
        plan = self._request.subgraphs.get(parsed.version)
        if plan is None:
            raise NodeFailure(
                ErrorType.SUBGRAPH_UNAVAILABLE,
                f"version {parsed.version} of graph {parsed.graph_id!r} was not given to the run",
            )
        inputs = render_field("config.inputs", parsed.inputs, scope, self._budget())
        suffix = "" if index is None else f":{index}"
        try:
            result = await workflow.execute_child_workflow(
                WORKFLOW_NAME,
                GraphRunInput(
                    tenant=self._request.tenant,
                    graph_id=parsed.graph_id,
                    version_id=parsed.version,
                    plan=plan,
                    inputs=inputs,
                    trigger=naming.Trigger.SUBGRAPH,
                    subgraphs=self._request.subgraphs,
                    blob_threshold_bytes=self._request.blob_threshold_bytes,
                    llm_task_queue=self._request.llm_task_queue,
                ),
                id=naming.subgraph_run_id(workflow.info().workflow_id, node_id, index),
                result_type=GraphRunResult,
                execution_timeout=timeout,
                static_summary=f"{node_id}{suffix} (subgraph {parsed.graph_id})",
                search_attributes=self._child_attributes(
                    parsed.graph_id, parsed.version, naming.Trigger.SUBGRAPH
                ),
            )
        except ChildWorkflowError as error:
            if isinstance(error.cause, TemporalCancelled):
                raise asyncio.CancelledError() from None
            raise _child_failure(error, ErrorType.SUBGRAPH_FAILED) from None
        return NodeOutcome(output=result.output)

    def _child_attributes(
        self, graph_id: str, version_id: str, trigger: naming.Trigger
    ) -> TypedSearchAttributes | None:
        """A child run's search attributes, in the parent's tenant, when the parent has them."""
        tenant = workflow.info().typed_search_attributes.get(naming.TENANT)
        if tenant is None:
            return None
        return naming.run_attributes(tenant, graph_id, version_id, trigger)

    def _execution_id(self) -> str:
        batch = self._request.batch
        return batch.execution_id if batch else workflow.info().workflow_id

    # --- foreach ----------------------------------------------------------------------

    async def _foreach(self, node: PlanNode) -> NodeOutcome:
        config = ForeachConfig.model_validate(node.config)
        scope = self._scope(node)
        fields = {"items": config.items}
        if _holds_ref(scope) and workflow.patched(STORED_ITEMS_PATCH):
            listed = await self._computed_outside(
                node.id, ITEMS, fields, scope, f"{node.id} (items over stored values)",
                threshold_bytes=self._request.blob_threshold_bytes,
            )  # fmt: skip
            if contracts.is_blob_ref(listed.output):
                # In batches even when short (its few items are then large): no run but a
                # batch of `batch_size` items ever holds items of a stored list.
                count = listed.count or 0
                return NodeOutcome(
                    await self._run_batches(node, config, listed.output, count, scope)
                )
            items = listed.output
        else:
            items = run_items(fields, await self._resolved(scope), self._budget()).output
        if len(items) <= config.batch_size:
            return NodeOutcome(await self._run_items(node, config, items, 0, scope))
        return NodeOutcome(await self._run_batches(node, config, items, len(items), scope))

    async def _run_batches(
        self,
        node: PlanNode,
        config: ForeachConfig,
        items: list[Any] | dict[str, Any],
        count: int,
        scope: dict[str, Any],
    ) -> list[Any]:
        """Child runs of `batch_size` items; together never more than `concurrency` items.
        `items` is the list, or a blob ref to its `count` items: each batch then reads its
        own with `blob.slice`."""
        size = config.batch_size
        stored = None if isinstance(items, list) else items
        batch_node = node.model_copy(
            update={
                "config": {**node.config, "concurrency": min(config.concurrency, size)},
                "incoming": [],
                "outgoing": [],
            }
        )
        plan = self._plan.model_copy(
            update={"nodes": {node.id: batch_node}, "roots": [node.id], "vars": {}}
        )
        slots = asyncio.Semaphore(max(1, config.concurrency // size))

        async def run_batch(number: int, offset: int) -> list[Any]:
            async with slots:
                length = min(size, count - offset)
                batch = ForeachBatch(
                    node=batch_node,
                    items=items[offset : offset + size] if isinstance(items, list) else [],
                    offset=offset,
                    stored=stored,
                    size=length if stored else 0,
                    scope=scope,
                    execution_id=self._execution_id(),
                )
                try:
                    result = await workflow.execute_child_workflow(
                        WORKFLOW_NAME,
                        self._request.model_copy(
                            update={
                                "plan": plan,
                                "batch": batch,
                                "carried": {},
                                "reuse_outputs": {},
                                "continued": 0,
                                "inputs": {},
                            }
                        ),
                        id=naming.foreach_batch_id(workflow.info().workflow_id, node.id, number),
                        result_type=GraphRunResult,
                        static_summary=f"{node.id} items {offset}-{offset + length - 1}",
                        search_attributes=self._child_attributes(
                            self._request.graph_id,
                            self._request.version_id,
                            naming.Trigger.FOREACH,
                        ),
                    )
                except ChildWorkflowError as error:
                    if isinstance(error.cause, TemporalCancelled):
                        raise asyncio.CancelledError() from None
                    raise _child_failure(error, ErrorType.FOREACH_BATCH_FAILED) from None
                if contracts.is_blob_ref(result.output):
                    return result.output
                return list(result.output or [])

        offsets = range(0, count, size)
        results = await _all_or_nothing(
            [run_batch(number, offset) for number, offset in enumerate(offsets)]
        )
        if any(contracts.is_blob_ref(batch) for batch in results):
            return await self._joined(node.id, results)
        return [output for batch in results for output in batch]

    async def _joined(self, node_id: str, results: list[Any]) -> Any:
        """The batches' results as one list, stored, when some batches stored theirs: joined
        by `node.pure`, so no batch's items come into this run's history."""
        joined = await self._computed_outside(
            node_id, CONCAT, {}, {"lists": results}, f"{node_id} (join stored batch results)"
        )
        return joined.output

    async def _run_batch(self, batch: ForeachBatch) -> GraphRunResult:
        config = ForeachConfig.model_validate(batch.node.config)
        try:
            items = batch.items if batch.stored is None else await self._sliced(batch)
            outputs = await self._run_items(batch.node, config, items, batch.offset, batch.scope)
            stored = await self._offloaded(batch.node.id, outputs)
        except NodeFailure as failure:
            raise ApplicationError(
                failure.message, failure.details, type=failure.type, non_retryable=True
            ) from None
        return GraphRunResult(output=stored)

    async def _sliced(self, batch: ForeachBatch) -> list[Any]:
        """This batch's items of the stored list, and none of the others."""
        last = batch.offset + batch.size - 1
        items: list[Any] = await _call_activity(
            contracts.BLOB_SLICE,
            contracts.BlobSliceInput(
                tenant=self._request.tenant,
                ref=batch.stored or {},
                offset=batch.offset,
                size=batch.size,
            ),
            timeout=timedelta(minutes=1),
            retry=BLOB_RETRY,
            summary=f"{batch.node.id} (read items {batch.offset}-{last})",
        )
        return items

    async def _run_items(
        self,
        node: PlanNode,
        config: ForeachConfig,
        items: list[Any],
        offset: int,
        scope: dict[str, Any],
    ) -> list[Any]:
        """The body over each item, `concurrency` at a time, results in input order."""
        slots = asyncio.Semaphore(config.concurrency)

        async def run_item(index: int, item: Any) -> Any:
            async with slots:
                try:
                    return await self._run_body(node, config, item, index, scope)
                except NodeFailure as failure:
                    failure.message = f"item {index}: {failure.message}"
                    raise

        return await _all_or_nothing(
            [run_item(offset + position, item) for position, item in enumerate(items)]
        )

    async def _run_body(
        self, node: PlanNode, config: ForeachConfig, item: Any, index: int, scope: dict[str, Any]
    ) -> Any:
        body = config.node
        item_scope = {**scope, "item": item, "index": index}
        if body.type in contracts.NODE_ACTIVITIES:
            outcome = await self._activity(
                node.id,
                body.type,
                body.config,
                item_scope,
                timeout=parse_duration(body.timeout) if body.timeout else None,
                retry=body.retry,
                local=body.execution == "local",
                label=f"{node.id}[{index}]",
            )
        elif body.type in PURE_KINDS:
            outcome = await self._pure(node.id, body.type, body.config, item_scope, index)
        elif body.type == "subgraph":
            timeout = parse_duration(body.timeout) if body.timeout else None
            resolved = await self._resolved(item_scope)
            outcome = await self._subgraph(node.id, body.config, resolved, timeout, index)
        else:
            raise RuntimeError(f"node {node.id!r}: a foreach cannot run {body.type!r}")
        return outcome.output


# --- helpers ------------------------------------------------------------------------------


async def _call_activity(
    name: str,
    arg: Any,
    *,
    timeout: timedelta,
    retry: RetryPolicy,
    summary: str | None = None,
    activity_id: str | None = None,
    result_type: type | None = None,
    local: bool = False,
    task_queue: str | None = None,
    heartbeat: timedelta | None = None,
) -> Any:
    """Runs an activity, labelled by `summary` or named by `activity_id`. Its failure becomes
    a `NodeFailure` (the node fails, not the workflow task); its cancellation, requested by
    this run, a `CancelledError`.
    An activity carries its run's priority (the tenant's fairness key, `naming.run_priority`)
    in its scheduled event, where the server would otherwise apply it unseen.
    `task_queue`: where the activity runs (the run's own when None); fairness applies there
    too, by the same priority.
    `heartbeat`: the heartbeat timeout (a streamed llm call's; only new configs set one,
    and local activities have none)."""
    try:
        if local:
            return await workflow.execute_local_activity(
                name, arg, result_type=result_type, start_to_close_timeout=timeout,
                retry_policy=retry, summary=summary, activity_id=activity_id,
            )  # fmt: skip
        return await workflow.execute_activity(
            name, arg, result_type=result_type, start_to_close_timeout=timeout,
            retry_policy=retry, summary=summary, activity_id=activity_id,
            task_queue=task_queue, priority=workflow.info().priority,
            heartbeat_timeout=heartbeat,
        )  # fmt: skip
    except ActivityError as error:
        if isinstance(error.cause, TemporalCancelled):
            raise asyncio.CancelledError() from None
        raise _activity_failure(error, retry) from None


def _holds_ref(value: Any) -> bool:
    """True when a blob ref is anywhere inside `value`."""
    if isinstance(value, dict):
        return contracts.is_blob_ref(value) or any(_holds_ref(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_ref(item) for item in value)
    return False


async def _cancel(tasks: Any) -> None:
    """Cancels tasks and waits until each has finished cancelling."""
    pending = [task for task in tasks if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        await workflow.wait(pending)


async def _all_or_nothing(coroutines: list[Any]) -> list[Any]:
    """Runs coroutines concurrently; on the first failure cancels the rest and re-raises."""
    tasks = [asyncio.create_task(coroutine) for coroutine in coroutines]
    if not tasks:
        return []
    try:
        await workflow.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    except asyncio.CancelledError:
        await _cancel(tasks)
        raise
    failed = next((task for task in tasks if task.done() and task.exception()), None)
    if failed is not None:
        await _cancel(tasks)
        raise failed.exception()  # type: ignore[misc]
    return [task.result() for task in tasks]


def _timestamp(value: Any) -> datetime:
    """An ISO 8601 time from a rendered `until`; naive times are UTC."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise NodeFailure(
            ErrorType.EXPRESSION_ERROR, f"config.until: {value!r} is not an ISO 8601 time"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _activity_failure(error: ActivityError, policy: RetryPolicy) -> NodeFailure:
    cause = error.cause
    attempts = (
        policy.maximum_attempts or None
        if error.retry_state == RetryState.MAXIMUM_ATTEMPTS_REACHED
        else None
    )
    if isinstance(cause, ApplicationError):
        details = cause.details[0] if cause.details else None
        return NodeFailure(cause.type or ErrorType.ACTIVITY_ERROR, cause.message, details, attempts)
    if isinstance(cause, TemporalTimeout):
        kind = cause.type.name.lower() if cause.type else "timeout"
        return NodeFailure(ErrorType.TIMEOUT, f"timed out ({kind})", None, attempts)
    message = cause.message if cause is not None and hasattr(cause, "message") else str(error)
    return NodeFailure(
        type(cause).__name__ if cause else ErrorType.ACTIVITY_ERROR, message, None, attempts
    )


def _child_failure(error: ChildWorkflowError, default_type: str) -> NodeFailure:
    cause = error.cause
    if isinstance(cause, ApplicationError):
        details = cause.details[0] if cause.details else None
        failure_type = (
            default_type if cause.type == ErrorType.NODE_FAILED else cause.type or default_type
        )
        return NodeFailure(failure_type, cause.message, details)
    if isinstance(cause, TemporalTimeout):
        return NodeFailure(ErrorType.TIMEOUT, "the child run timed out")
    return NodeFailure(default_type, str(cause or error))
