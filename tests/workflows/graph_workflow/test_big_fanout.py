"""Big fan-outs on a real server: a foreach runs in child workflows of `batch_size` items,
so no history nears the server's limits (a warning at 10,240 events).

At 1,000 items (5 children) this takes seconds; issue #16 asks for 10,000, which does not
finish within ten minutes here yet (3,000 neither): that is the next thing to find."""

from __future__ import annotations

import time

from temporalio.client import Client

from tests.workflows.graph_workflow.support import (
    FakeNodes,
    graph,
    graph_worker,
    run_input,
    start,
)

HISTORY_WARNING_EVENTS = 10_240
ITEMS = 1000


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
        handle = await start(temporal_client, task_queue, run_input(document))
        result = await handle.result()
    seconds = time.monotonic() - began
    assert [output["json"] for output in result.output["each"]] == list(range(ITEMS))
    assert len(nodes.calls) == ITEMS
    parent = await _events(temporal_client, handle.id)
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
    assert 0 < largest_child < HISTORY_WARNING_EVENTS // 2
