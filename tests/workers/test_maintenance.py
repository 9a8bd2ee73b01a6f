"""The platform's own schedules, as a worker creates them at start."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio.client import Client

from auterity.graph.naming import AUDIT_RETENTION_ID
from workers.maintenance import ensure_audit_retention_schedule


async def test_the_retention_schedule_is_created_once(
    temporal_client: Client, task_queue: str
) -> None:
    try:
        created = await ensure_audit_retention_schedule(temporal_client, task_queue)
        again = await ensure_audit_retention_schedule(temporal_client, task_queue)
        description = await temporal_client.get_schedule_handle(AUDIT_RETENTION_ID).describe()
        assert description.schedule.spec.intervals[0].every == timedelta(days=1)
        assert (created, again) in {(True, False), (False, False)}
    finally:
        with contextlib.suppress(Exception):
            await temporal_client.get_schedule_handle(AUDIT_RETENTION_ID).delete()
