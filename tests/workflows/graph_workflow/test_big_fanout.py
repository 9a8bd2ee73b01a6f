"""Big fan-outs on a real server: a foreach runs in child workflows of `batch_size` items,
so no history nears the server's limits (a warning at 10,240 events).

At 1,000 items (5 children) this takes seconds. 10,000 items and a nested 100 x 100 are
measured by `tests/benchmarks/fanout.py` (time linear in the items, no history warning).
A foreach's output list larger than the run's blob threshold is stored by `blob.put`:
these fakes once lacked it, so every workflow task of a 3,000-item run failed and the run
never finished; here the threshold is low, so the list always takes that path."""

from __future__ import annotations

import json
import time

from temporalio.client import Client

from auterity.graph import contracts
from tests.workflows.graph_workflow.support import (
    FakeNodes,
    graph,
    graph_worker,
    run_input,
    start,
)

HISTORY_WARNING_EVENTS = 10_240
ITEMS = 1000
THRESHOLD = 16 * 1024
"""Below the 1,000 outputs' JSON (about 55 kB), above one batch's (about 11 kB)."""


async def _events(client: Client, workflow_id: str, run_id: str | None = None) -> int:
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    return len((await handle.fetch_history()).events)


async def test_a_foreach_over_a_thousand_items_runs_in_batches_far_from_history_limits(
    temporal_client: Client, task_queue: str
) -> None:
    body = {"type": "http", "config": {"url": "https://svc.test/echo", "json": "{{ item }}"}}
    each = {"id": "each", "type": "foreach",
            "config": {"items": f"range({ITEMS}) | list", "node": body, "concurrency": 200}}  # fmt: skip
    document = graph("map-10k", [each], [])
    nodes = FakeNodes()
    began = time.monotonic()
    async with graph_worker(temporal_client, task_queue, nodes):
        request = run_input(document, blob_threshold_bytes=THRESHOLD)
        handle = await start(temporal_client, task_queue, request)
        result = await handle.result()
    seconds = time.monotonic() - began
    stored = result.output["each"]
    assert contracts.is_blob_ref(stored)
    assert [output["json"] for output in nodes.blob_value(stored)] == list(range(ITEMS))
    assert len(nodes.calls) == ITEMS
    parent = await _events(temporal_client, handle.id)
    described = await handle.describe()
    parent_bytes = described.raw_description.workflow_execution_info.history_size_bytes
    children = [
        execution
        async for execution in temporal_client.list_workflows(
            f"WorkflowType = 'GraphWorkflow' AND WorkflowId STARTS_WITH '{handle.id}'"
        )
        if execution.id != handle.id
    ]
    largest_child = max([await _events(temporal_client, c.id, c.run_id) for c in children],
                        default=0)  # fmt: skip
    print(f"foreach {ITEMS}: {seconds:.1f} s, parent {parent} events, "
          f"{len(children)} children, largest {largest_child} events")  # fmt: skip
    assert parent < HISTORY_WARNING_EVENTS // 4
    assert parent_bytes < 200_000  # the batches' results, not the whole list a second time
    assert 0 < largest_child < HISTORY_WARNING_EVENTS // 2


async def test_batches_store_their_results_so_the_parent_history_holds_no_item(
    temporal_client: Client, task_queue: str
) -> None:
    """Each batch's results over the threshold are stored by the batch; the parent joins the
    stored lists with `node.pure`, so no item's result is written to the parent's history."""
    body = {"type": "http", "config": {"url": "https://svc.test/echo", "json": "{{ item }}"}}
    each = {"id": "each", "type": "foreach",
            "config": {"items": "range(300) | list", "node": body, "batch_size": 100,
                       "concurrency": 100}}  # fmt: skip
    nodes = FakeNodes(blob_threshold=1024)
    async with graph_worker(temporal_client, task_queue, nodes):
        request = run_input(graph("stored-batches", [each], []), blob_threshold_bytes=1024)
        handle = await start(temporal_client, task_queue, request)
        result = await handle.result()
        history = await handle.fetch_history()
    stored = result.output["each"]
    assert contracts.is_blob_ref(stored)
    assert [output["json"] for output in nodes.blob_value(stored)] == list(range(300))
    joins = [call for call in nodes.pure_calls if call.kind == "concat"]
    assert len(joins) == 1
    assert [contracts.is_blob_ref(part) for part in joins[0].scope["lists"]] == [True] * 3
    batch_results = [
        json.loads(
            event.child_workflow_execution_completed_event_attributes.result.payloads[0].data
        )
        for event in history.events
        if event.HasField("child_workflow_execution_completed_event_attributes")
    ]
    assert [contracts.is_blob_ref(batch["output"]) for batch in batch_results] == [True] * 3
