"""Wait nodes are durable timers: days pass on the time-skipping server in seconds."""

import time
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from auterity.graph.run import GraphRunResult, NodeState, RunState
from tests.workflows.graph_workflow.support import (
    FakeNodes,
    edge,
    graph,
    graph_worker,
    run_input,
    start,
    transform,
)
from workflows.graph_workflow import GraphWorkflow

WALL_CLOCK_LIMIT = 60.0
"""Seconds a multi-day wait may take for real: far less than the wait itself."""


@pytest.fixture
def skipping_client(time_skipping_env: WorkflowEnvironment) -> Client:
    return time_skipping_env.client


def wait_graph(name: str, config: dict[str, str]) -> dict:
    return graph(
        name,
        [{"id": "pause", "type": "wait", "config": config}, transform("after", "done")],
        [edge("pause", "after")],
    )


async def run_to_end(
    client: Client, task_queue: str, document: dict, inputs: dict | None = None
) -> tuple[WorkflowHandle, GraphRunResult, RunState]:
    began = time.monotonic()
    async with graph_worker(client, task_queue, FakeNodes()):
        handle = await start(client, task_queue, run_input(document, inputs), attributes=False)
        result = await handle.result()
        state = await handle.query(GraphWorkflow.state)
    assert time.monotonic() - began < WALL_CLOCK_LIMIT, "time was not skipped"
    return handle, result, state


async def timer_durations(handle: WorkflowHandle) -> list[timedelta]:
    """How long each durable timer of the run was set for; each one must have fired."""
    history = await handle.fetch_history()
    started = [
        event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED
    ]
    fired = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_TIMER_FIRED]
    assert len(fired) == len(started)
    return started


def span(node: NodeState) -> tuple[datetime, datetime]:
    """When the node started and finished, by the run's (durable) clock."""
    assert node.started_at is not None and node.finished_at is not None
    return node.started_at, node.finished_at


async def test_wait_for_two_days(skipping_client: Client, task_queue: str) -> None:
    handle, result, state = await run_to_end(
        skipping_client, task_queue, wait_graph("wait-2d", {"duration": "2d"})
    )
    assert result.output == {"after": "done"}
    paused = state.nodes["pause"]
    assert state.status == "succeeded" and paused.status == "succeeded"
    started, finished = span(paused)
    assert finished - started >= timedelta(days=2)
    assert datetime.fromisoformat(paused.output["until"]) <= finished
    assert span(state.nodes["after"])[0] >= finished
    assert await timer_durations(handle) == [timedelta(days=2)]


async def test_wait_until_a_time_three_days_ahead(
    time_skipping_env: WorkflowEnvironment, skipping_client: Client, task_queue: str
) -> None:
    # The server's clock, not ours: earlier tests in the session have already skipped ahead.
    now = await time_skipping_env.get_current_time()
    at = now.astimezone(UTC).replace(microsecond=0) + timedelta(days=3)
    handle, result, state = await run_to_end(
        skipping_client,
        task_queue,
        wait_graph("wait-until", {"until": "{{ inputs.at }}"}),
        {"at": at.isoformat()},
    )
    assert result.output == {"after": "done"}
    paused = state.nodes["pause"]
    assert state.status == "succeeded" and paused.status == "succeeded"
    assert datetime.fromisoformat(paused.output["until"]) == at
    started, finished = span(paused)
    assert finished >= at
    assert finished - started > timedelta(days=2, hours=23)
    assert span(state.nodes["after"])[0] >= finished
    (duration,) = await timer_durations(handle)
    assert timedelta(days=2, hours=23) < duration <= timedelta(days=3)
