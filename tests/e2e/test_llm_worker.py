"""`auterity worker --llm` beside `auterity worker`, as an operator runs them with
AUTERITY_LLM_TASK_QUEUE: the llm node runs in the llm worker, and the worker that holds the
run never loads LiteLLM."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from api.services.executions import start_execution
from auterity.db import transaction
from auterity.dev import DEV_EGRESS_ALLOW
from auterity.graph.compiler import compile_graph
from auterity.graph.run import GraphRunInput, GraphRunResult
from auterity.security.accounts import create_tenant
from tests.e2e.test_worker_crash import until, worker_process

pytestmark = pytest.mark.e2e


def loaded_litellm(pid: int) -> bool:
    """Whether the process mapped LiteLLM's native module (its import maps it)."""
    return "litellm" in Path(f"/proc/{pid}/maps").read_text()


async def test_the_llm_node_runs_in_the_llm_worker_and_the_run_holder_never_loads_litellm(
    temporal_client: Client,
    temporal_address: str,
    database_url: str,
    sessions: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("one engine is enough: the database is not on this path")
    with transaction(sessions) as session:
        slug = create_tenant(session, f"llmq-{uuid.uuid4().hex[:10]}").slug
    task_queue = f"llmq-{uuid.uuid4()}"
    env = dict(
        os.environ, AUTERITY_HOME=str(tmp_path), AUTERITY_DATABASE_URL=database_url,
        AUTERITY_TEMPORAL_ADDRESS=temporal_address, AUTERITY_TASK_QUEUE=task_queue,
        AUTERITY_LLM_TASK_QUEUE=f"{task_queue}-llm", AUTERITY_WORKER_METRICS_PORT="0",
        AUTERITY_EGRESS_ALLOW=DEV_EGRESS_ALLOW,
    )  # fmt: skip
    graph = {"name": "ask", "nodes": [
        {"id": "say", "type": "llm", "config": {"route": "default", "prompt": "hello"}}]}  # fmt: skip
    plan = compile_graph(graph)
    run = GraphRunInput(
        tenant=slug, graph_id="g", version_id=plan.version_id, plan=plan,
        llm_task_queue=f"{task_queue}-llm",
    )  # fmt: skip
    with (
        worker_process(env, tmp_path / "worker.log") as worker,
        worker_process(env, tmp_path / "llm.log", "--llm") as llm_worker,
    ):
        for log in ("worker.log", "llm.log"):
            await until(
                lambda log=log: "polling task queue" in (tmp_path / log).read_text(), 60, log
            )
        started = await start_execution(temporal_client, task_queue, run)
        handle = temporal_client.get_workflow_handle(
            started.execution_id, result_type=GraphRunResult
        )
        result = await handle.result()
        assert loaded_litellm(llm_worker.pid)
        assert not loaded_litellm(worker.pid)

    assert result.nodes["say"].status == "succeeded", result.nodes["say"]
    [scheduled] = [
        event.activity_task_scheduled_event_attributes
        for event in (await handle.fetch_history()).events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert scheduled.task_queue.name == f"{task_queue}-llm"
    assert f"polling task queue '{task_queue}-llm'" in (tmp_path / "llm.log").read_text()
