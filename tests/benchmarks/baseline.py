"""Hand-written Temporal workflows doing what benchmark graphs do, for side-by-side ratios.

They call the same `node.http` activity with the same input model as GraphWorkflow
does, so the only difference measured is the interpreter.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from auterity.graph import contracts

TIMEOUT = timedelta(minutes=5)
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3)


@activity.defn(name=contracts.HTTP_ACTIVITY)
async def noop_http(request: contracts.NodeActivityInput) -> contracts.NodeActivityOutput:
    """Stands in for the HTTP activity: returns at once, so only orchestration is timed."""
    return contracts.NodeActivityOutput(output={"node": request.node_id})


def _request(node_id: str) -> contracts.NodeActivityInput:
    info = workflow.info()
    return contracts.NodeActivityInput(
        tenant="bench", execution_id=info.workflow_id, graph_id="bench", version_id="v_bench",
        node_id=node_id, kind="http", config={"url": "http://127.0.0.1/"}, scope={},
    )  # fmt: skip


async def _call(node_id: str, *, local: bool = False) -> contracts.NodeActivityOutput:
    start = workflow.execute_local_activity if local else workflow.execute_activity
    return await start(  # type: ignore[no-any-return]
        contracts.HTTP_ACTIVITY, _request(node_id), result_type=contracts.NodeActivityOutput,
        start_to_close_timeout=TIMEOUT, retry_policy=RETRY,
    )  # fmt: skip


@workflow.defn
class SequentialWorkflow:
    @workflow.run
    async def run(self, count: int) -> int:
        for index in range(count):
            await _call(f"n{index}")
        return count


@workflow.defn
class FanOutWorkflow:
    @workflow.run
    async def run(self, count: int) -> int:
        await asyncio.gather(*(_call(f"n{index}") for index in range(count)))
        return count


@workflow.defn
class OneActivityWorkflow:
    @workflow.run
    async def run(self, _count: int) -> int:
        await _call("only")
        return 1
