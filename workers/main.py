"""Build and run the Temporal worker that executes every graph."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from temporalio.client import Client
from temporalio.worker import Worker

from auterity.settings import Settings

if TYPE_CHECKING:
    from workers.activities import ActivityRuntime

log = logging.getLogger("auterity.worker")


def workflow_classes() -> list[type]:
    """Every workflow class the worker hosts: the one generic graph interpreter and its helpers."""
    from workflows.graph_workflow import GraphWorkflow
    from workflows.maintenance import AuditRetentionWorkflow

    return [GraphWorkflow, AuditRetentionWorkflow]


def build_worker(
    client: Client,
    settings: Settings,
    activities: Sequence[Callable[..., Any]],
    *,
    task_queue: str | None = None,
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=workflow_classes(),
        activities=list(activities),
        graceful_shutdown_timeout=timedelta(seconds=10),
        max_concurrent_activities=200,
        max_cached_workflows=settings.worker_max_cached_workflows,
    )


def build_llm_worker(client: Client, settings: Settings, runtime: ActivityRuntime) -> Worker:
    """The llm worker: polls AUTERITY_LLM_TASK_QUEUE with the llm node activity alone, so
    LiteLLM (imported as it starts) lives in it, never in the workers that hold the runs."""
    return Worker(
        client,
        task_queue=settings.llm_task_queue,
        activities=[runtime.llm().complete],
        graceful_shutdown_timeout=timedelta(seconds=10),
        max_concurrent_activities=200,
    )


async def run_worker(
    settings: Settings, *, task_queue: str | None = None, llm: bool = False
) -> None:
    """Run until SIGTERM or SIGINT, then let in-flight activities finish (graceful shutdown).

    `llm`: run the llm worker (`build_llm_worker`) instead of the one that runs graphs."""
    from auterity import temporal
    from workers.activities import ActivityRuntime

    metrics = None
    if settings.worker_metrics_port:
        metrics = temporal.metrics_runtime(settings.worker_metrics_port)
    client = await temporal.connect(settings, runtime=metrics)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    from workers.maintenance import ensure_audit_retention_schedule

    if not llm:
        await ensure_audit_retention_schedule(client, task_queue or settings.task_queue)
    async with ActivityRuntime(settings) as runtime:
        if llm:
            worker = build_llm_worker(client, settings, runtime)
        else:
            worker = build_worker(client, settings, runtime.activities(), task_queue=task_queue)
        async with worker:
            log.info("worker polling task queue %s", worker.task_queue)
            print(f"worker: polling task queue '{worker.task_queue}'", flush=True)
            await stop.wait()
            log.info("worker shutting down")
    print("worker: stopped", flush=True)
