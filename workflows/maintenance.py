"""Platform upkeep that runs on a Temporal Schedule: audit retention.

`AuditRetentionWorkflow` asks one activity (`audit.purge_expired`, in
`activities/audit.py`) to delete each tenant's audit entries older than its
retention while leaving the chain verifiable. The schedule that starts it daily
is created by `ensure_audit_retention_schedule` (idempotent).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
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
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, Field

AUDIT_PURGE_ACTIVITY = "audit.purge_expired"
# Not a tenant's workflow: system ids start with "_", which no tenant slug can.
AUDIT_RETENTION_SCHEDULE_ID = "_system:audit-retention"


class AuditRetentionInput(BaseModel):
    tenant: str | None = Field(default=None, description="one tenant's slug; every tenant if None")


class AuditRetentionOutput(BaseModel):
    tenants: int = 0
    deleted: int = 0
    refused: list[str] = Field(
        default_factory=list, description="tenants whose chain does not verify: nothing deleted"
    )


@workflow.defn(name="AuditRetention")
class AuditRetentionWorkflow:
    """Delete expired audit entries of every tenant (or one), keeping each chain verifiable."""

    @workflow.run
    async def run(self, request: AuditRetentionInput) -> AuditRetentionOutput:
        return await workflow.execute_activity(
            AUDIT_PURGE_ACTIVITY,
            request,
            result_type=AuditRetentionOutput,
            start_to_close_timeout=timedelta(hours=1),
            heartbeat_timeout=timedelta(minutes=5),
            retry_policy=RetryPolicy(maximum_attempts=5, initial_interval=timedelta(seconds=10)),
        )


async def ensure_audit_retention_schedule(
    client: Client, task_queue: str, *, every: timedelta = timedelta(days=1)
) -> bool:
    """Create the retention schedule unless it exists; True when created."""
    try:
        await client.create_schedule(
            AUDIT_RETENTION_SCHEDULE_ID,
            Schedule(
                action=ScheduleActionStartWorkflow(
                    AuditRetentionWorkflow.run,
                    AuditRetentionInput(),
                    id=AUDIT_RETENTION_SCHEDULE_ID,
                    task_queue=task_queue,
                ),
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
                policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
            ),
        )
    except ScheduleAlreadyRunningError:
        return False
    return True
