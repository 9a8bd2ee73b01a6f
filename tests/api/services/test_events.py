"""Execution events derived from state: order, ties, waiting tasks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.services.events import diff
from auterity.graph.run import NodeState, PendingTask, RunState

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_finished_run_replays_in_causal_order_despite_equal_times() -> None:
    final = RunState(
        status="succeeded",
        nodes={
            "fetch": NodeState(status="succeeded", output=1, started_at=at(0), finished_at=at(1)),
            "pure": NodeState(status="succeeded", output=2, started_at=at(1), finished_at=at(1)),
            "last": NodeState(status="succeeded", output=3, started_at=at(1), finished_at=at(2)),
            "off": NodeState(status="skipped"),
        },
    )
    events = [(event["type"], event["node"]) for event in diff(None, final)]
    assert events == [
        ("node.skipped", "off"),
        ("node.started", "fetch"),
        ("node.completed", "fetch"),
        ("node.started", "pure"),
        ("node.completed", "pure"),
        ("node.started", "last"),
        ("node.completed", "last"),
    ]


def test_only_changes_are_reported_and_waiting_tasks_appear_once() -> None:
    running = RunState(
        status="running",
        nodes={"ask": NodeState(status="running", started_at=at(0))},
        tasks=[PendingTask(task_id="t1", node_id="ask", outcomes=["ok"], assignees=["role:x"])],
    )
    first = diff(None, running)
    assert [event["type"] for event in first] == ["node.started", "node.waiting"]
    assert first[1]["task_id"] == "t1" and first[1]["assignees"] == ["role:x"]
    assert diff(running, running) == []
    done = RunState(
        status="succeeded",
        nodes={
            "ask": NodeState(status="succeeded", label="ok", started_at=at(0), finished_at=at(5))
        },
    )
    later = diff(running, done)
    assert [(event["type"], event["label"]) for event in later] == [("node.completed", "ok")]
