"""A tiny workflow that calls activities by name, to run them on a real worker."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy


class ProbeStep(BaseModel):
    activity: str
    argument: dict[str, Any]


@workflow.defn
class ActivityProbe:
    """Runs each step's activity in order, retrying quickly, and returns their results."""

    @workflow.run
    async def run(self, steps: list[ProbeStep]) -> list[Any]:
        results: list[Any] = []
        for step in steps:
            results.append(
                await workflow.execute_activity(
                    step.activity,
                    step.argument,
                    start_to_close_timeout=timedelta(seconds=20),
                    retry_policy=RetryPolicy(
                        initial_interval=timedelta(milliseconds=50), maximum_attempts=4
                    ),
                    summary=f"probe {step.activity}",
                )
            )
        return results
