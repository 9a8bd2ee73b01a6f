"""The platform's own schedules, which every worker makes sure exist when it starts."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)

from auterity.graph.contracts import AuditRetentionInput
from auterity.graph.naming import AUDIT_RETENTION_ID
from workflows.maintenance import AuditRetentionWorkflow


async def ensure_audit_retention_schedule(
    client: Client, task_queue: str, *, every: timedelta = timedelta(days=1)
) -> bool:
    """Create the retention schedule unless it exists; True when created."""
    try:
        await client.create_schedule(
            AUDIT_RETENTION_ID,
            Schedule(
                action=ScheduleActionStartWorkflow(
                    AuditRetentionWorkflow.run,
                    AuditRetentionInput(),
                    id=AUDIT_RETENTION_ID,
                    task_queue=task_queue,
                ),
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
                policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
            ),
        )
    except ScheduleAlreadyRunningError:
        return False
    return True
