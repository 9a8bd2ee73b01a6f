"""`auterity worker` killed with SIGKILL while an `llm` call is in flight: a new worker
finishes the run by Temporal's retry, and the cost ledger charges each completed call once.
The lost attempt's reservation is never settled; its retry takes it back, so a budget that
admits the call once admits the retry too."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.client import Client

from activities.gateway import Price, prompt_token_bound
from api.services.executions import start_execution
from auterity.db import transaction
from auterity.dev import DEV_EGRESS_ALLOW
from auterity.gateway.routes import RouteConfig
from auterity.graph.compiler import compile_graph
from auterity.graph.run import GraphRunInput, GraphRunResult
from auterity.models.gateway import Budget, BudgetWindow, LedgerEntry, ModelRoute
from auterity.security.accounts import create_tenant
from tests.e2e.test_worker_crash import until, worker_process
from tests.servers import ChatServer

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.filterwarnings("ignore:.*`ReadOnly` qualifier:UserWarning"),
]

PRICE = {"input_cost_per_token": 0.001, "output_cost_per_token": 0.002}
CALL_NANOS = Price(0.001, 0.002).nanos(7, 3)
"""7 prompt and 3 completion tokens (what the test server reports): $0.013 a call."""
ASK_WORST_NANOS = Price(0.001, 0.002).nanos(
    prompt_token_bound([{"role": "user", "content": "hello again"}]), 5
)
"""What the held call reserves: its prompt's token bound and max_tokens ($0.029)."""
LIMIT_NANOS = CALL_NANOS + ASK_WORST_NANOS
"""The first call spent, the held one reserved: the budget admits no second reservation."""


def _tenant(sessions: sessionmaker[Session], base: str, tag: str) -> tuple[str, str, str]:
    """A tenant with a `plain` route that answers and a `held` one that stalls until
    released, both priced, and a hard daily budget with room for the held call only once:
    (slug, tenant id, budget id)."""
    with transaction(sessions) as session:
        tenant = create_tenant(session, f"crash-{uuid.uuid4().hex[:10]}")
        slug, tenant_id = tenant.slug, tenant.id
    with transaction(sessions, tenant_id) as session:
        for name, model in (("plain", "openai/echo"), ("held", f"openai/stall:{tag}")):
            config = RouteConfig.model_validate(
                {"deployments": [{"model": model, "api_base": base, **PRICE}]}
            )
            session.add(ModelRoute(name=name, config=config.model_dump(mode="json")))
        budget = Budget(name="daily", period="daily", limit_nanos=LIMIT_NANOS, enforcement="hard")
        session.add(budget)
        session.flush()
        return slug, tenant_id, budget.id


def _entries(sessions: sessionmaker[Session], tenant_id: str) -> list[LedgerEntry]:
    with transaction(sessions, tenant_id) as session:
        return list(
            session.scalars(select(LedgerEntry).order_by(LedgerEntry.node_id, LedgerEntry.attempt))
        )


def _window(sessions: sessionmaker[Session], tenant_id: str, budget_id: str) -> BudgetWindow:
    with transaction(sessions, tenant_id) as session:
        return session.scalars(
            select(BudgetWindow).where(BudgetWindow.budget_id == budget_id)
        ).one()


async def test_sigkilled_worker_mid_llm_call_charges_each_completed_call_once(
    temporal_client: Client,
    temporal_address: str,
    database_url: str,
    sessions: sessionmaker[Session],
    chat_server: ChatServer,
    tmp_path: Path,
) -> None:
    tag = uuid.uuid4().hex
    slug, tenant_id, budget_id = _tenant(sessions, f"{chat_server.url}/v1", tag)
    task_queue = f"gateway-crash-{uuid.uuid4()}"
    env = dict(
        os.environ, AUTERITY_HOME=str(tmp_path), AUTERITY_DATABASE_URL=database_url,
        AUTERITY_TEMPORAL_ADDRESS=temporal_address, AUTERITY_TASK_QUEUE=task_queue,
        AUTERITY_WORKER_METRICS_PORT="0", AUTERITY_EGRESS_ALLOW=DEV_EGRESS_ALLOW,
        AUTERITY_WORKER_PRELOAD_LLM="true",  # 3 s llm timeouts: the first must not import
    )  # fmt: skip
    retry = {"initial_interval": "100ms", "maximum_interval": "500ms", "maximum_attempts": 5}
    graph = {"name": "ask", "nodes": [
        {"id": "greet", "type": "llm", "timeout": "3s", "retry": retry,
         "config": {"route": "plain", "prompt": "hello", "max_tokens": 5}},
        {"id": "ask", "type": "llm", "timeout": "3s", "retry": retry,
         "config": {"route": "held", "prompt": "{{ nodes.greet.output.text }} again",
                    "max_tokens": 5}}],
        "edges": [{"from": "greet", "to": "ask"}]}  # fmt: skip
    plan = compile_graph(graph)
    run = GraphRunInput(tenant=slug, graph_id="g", version_id=plan.version_id, plan=plan)

    with worker_process(env, tmp_path / "first.log") as first:
        started = await start_execution(temporal_client, task_queue, run)
        await until(
            lambda: chat_server.stalled[tag] or first.poll() is not None, 60, "the held call"
        )
        assert chat_server.stalled[tag] == 1, (tmp_path / "first.log").read_text()
        held = [(e.node_id, e.attempt, e.status) for e in _entries(sessions, tenant_id)]
        assert held == [("ask", 1, "reserved"), ("greet", 1, "settled")], "killed mid-call"
        window = _window(sessions, tenant_id, budget_id)
        assert (window.spent_nanos, window.reserved_nanos) == (CALL_NANOS, ASK_WORST_NANOS)
        first.send_signal(signal.SIGKILL)
        assert await asyncio.to_thread(first.wait, 10) == -signal.SIGKILL
    chat_server.release(tag)
    await until(lambda: chat_server.abandoned[tag], 10, "the held call to answer a caller gone")

    with worker_process(env, tmp_path / "second.log"):
        handle = temporal_client.get_workflow_handle(
            started.execution_id, result_type=GraphRunResult
        )
        try:
            result = await asyncio.wait_for(handle.result(), 45)
        except TimeoutError:
            pytest.fail(f"the run did not finish:\n{(tmp_path / 'second.log').read_text()}")

    assert result.nodes["greet"].status == "succeeded" and result.nodes["greet"].attempts == 1
    ask = result.nodes["ask"]
    assert ask.status == "succeeded" and ask.attempts == 2
    assert ask.output["text"] == "hello again" and ask.output["cost"] == pytest.approx(0.013)

    # One settled entry per completed call; the lost attempt's hold went back to its retry.
    entries = _entries(sessions, tenant_id)
    assert [(e.node_id, e.attempt, e.status) for e in entries] == [
        ("ask", 1, "expired"),
        ("ask", 2, "settled"),
        ("greet", 1, "settled"),
    ]
    run_id = (await handle.describe()).run_id
    assert {(e.workflow_id, e.run_id) for e in entries} == {(started.execution_id, run_id)}
    lost = entries[0]
    assert lost.reserved_nanos == ASK_WORST_NANOS
    assert lost.cost_nanos is None and lost.settled_at is None
    settled = [e for e in entries if e.status == "settled"]
    assert [e.cost_nanos for e in settled] == [CALL_NANOS, CALL_NANOS]
    window = _window(sessions, tenant_id, budget_id)
    assert window.spent_nanos == sum(e.cost_nanos or 0 for e in settled) == 2 * CALL_NANOS
    assert window.reserved_nanos == 0

    history = await handle.fetch_history()
    starts = [
        event.activity_task_started_event_attributes
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    ]
    assert [start.attempt for start in starts] == [1, 2]
    timeout = starts[1].last_failure.timeout_failure_info.timeout_type
    assert timeout == TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE
