"""Platform upkeep that runs on a Temporal Schedule: audit retention.

`AuditRetentionWorkflow` asks one activity (`audit.purge_expired`, in
`activities/audit.py`) to delete each tenant's audit entries older than its
retention while leaving the chain verifiable. The worker creates the schedule
that starts it daily (`workers.maintenance`).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from auterity.graph.contracts import AUDIT_PURGE, AuditRetentionInput, AuditRetentionOutput

WORKFLOW_NAME = "AuditRetention"


@workflow.defn(name=WORKFLOW_NAME)
class AuditRetentionWorkflow:
    """Delete expired audit entries of every tenant (or one), keeping each chain verifiable."""

    @workflow.run
    async def run(self, request: AuditRetentionInput) -> AuditRetentionOutput:
        return await workflow.execute_activity(
            AUDIT_PURGE,
            request,
            result_type=AuditRetentionOutput,
            start_to_close_timeout=timedelta(hours=1),
            heartbeat_timeout=timedelta(minutes=5),
            retry_policy=RetryPolicy(maximum_attempts=5, initial_interval=timedelta(seconds=10)),
        )
