"""Per-tenant fairness: every run, its activities and its child runs carry the tenant as
their Temporal fairness key, so a task queue shared by all tenants hands out tasks
round-robin across them (tests/benchmarks/fairness.py measures the effect)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from tests.api.test_executions import GREET
from tests.factories import save_graph, wait_for_execution
from tests.support import serve

pytestmark = pytest.mark.usefixtures("api_worker")


async def test_runs_activities_and_children_carry_the_tenant_as_fairness_key(
    api: httpx.AsyncClient, temporal_client: Client, make_tenant, member
) -> None:
    hook = FastAPI()

    @hook.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"ok": True}

    a, b = await member(make_tenant()), await member(make_tenant())
    with serve(hook) as base:
        started: dict[str, str] = {}
        for caller in (a, b):
            child = await api.post("/v1/graphs", json=GREET, headers=caller.headers)
            graph = {
                "name": "fair",
                "nodes": [
                    {"id": "call", "type": "http", "config": {"url": f"{base}/ping"}},
                    {"id": "inner", "type": "subgraph", "config": {
                        "graph_id": child.json()["id"], "version": child.json()["version_id"],
                        "inputs": {"name": "sub"}}},
                ],
            }  # fmt: skip
            graph_id = await save_graph(api, caller.headers, graph)
            response = await api.post(
                f"/v1/graphs/{graph_id}/executions", json={}, headers=caller.headers
            )
            assert response.status_code == 201, response.text
            started[caller.tenant_slug] = response.json()["id"]
        for caller in (a, b):
            await wait_for_execution(api, caller.headers, started[caller.tenant_slug], "completed")

    for tenant, execution_id in started.items():
        run = temporal_client.get_workflow_handle(execution_id)
        assert (await run.describe()).raw_description.workflow_execution_info.priority.fairness_key == tenant  # fmt: skip
        scheduled = [
            event.activity_task_scheduled_event_attributes
            async for event in run.fetch_history_events()
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        ]
        assert [s.priority.fairness_key for s in scheduled] == [tenant], scheduled
        child = temporal_client.get_workflow_handle(f"{execution_id}:inner")
        assert (await child.describe()).raw_description.workflow_execution_info.priority.fairness_key == tenant  # fmt: skip
