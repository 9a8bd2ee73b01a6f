"""Saved histories of representative runs replay on the current GraphWorkflow.

A failure here means a change would break executions already running: make the
change replay-safe (`workflow.patched`) rather than re-recording the histories.
"""

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.workflows.graph_workflow.scenarios import SCENARIOS
from workflows.graph_workflow import GraphWorkflow

HISTORIES = Path(__file__).parent / "histories"
FILES = sorted(HISTORIES.glob("*.json"))


def test_every_scenario_has_a_history() -> None:
    recorded = {path.stem.rsplit("-", 1)[0] for path in FILES}
    assert recorded == set(SCENARIOS)


@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
async def test_history_replays(path: Path) -> None:
    saved = json.loads(path.read_text())
    history = WorkflowHistory.from_json(saved["workflow_id"], saved["history"])
    replayer = Replayer(workflows=[GraphWorkflow], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history)
    assert result.replay_failure is None
