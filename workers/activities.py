"""The activity instances a worker registers, built with their dependencies."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any

from activities.audit import AuditActivities
from activities.blobs import BlobActivities, blob_store
from activities.http import HttpActivities
from activities.llm import LlmActivities
from activities.pure import PureActivities
from activities.secrets import SecretSource
from activities.tasks import TaskActivities
from auterity.db import make_engine, make_sessionmaker
from auterity.egress import EgressClient
from auterity.secrets import SecretStore
from auterity.settings import Settings


class ActivityRuntime:
    """Owns what activities share (database engine, HTTP client) for the worker's lifetime."""

    def __init__(self, settings: Settings, secrets: SecretSource | None = None) -> None:
        self.settings = settings
        self.blobs = blob_store(settings.blob_url, settings.blob_dir)
        self.engine = make_engine(
            settings.database_url_resolved, sqlite_wait_seconds=settings.sqlite_wait_seconds
        )
        self.sessions = make_sessionmaker(self.engine)
        self.secrets: SecretSource = secrets or SecretStore(self.sessions, settings)
        self.http = EgressClient(settings.egress_policy)

    async def __aenter__(self) -> ActivityRuntime:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.http.aclose()
        self.engine.dispose()

    def activities(self) -> list[Callable[..., Any]]:
        """Every activity function, bound to this runtime's dependencies."""
        blobs = self.blobs
        threshold = self.settings.blob_threshold_bytes
        seconds = self.settings.template_deadline_seconds
        http = HttpActivities(self.http, self.secrets, blobs, threshold, template_seconds=seconds)
        llm = LlmActivities(
            self.settings.model_routes, blobs, threshold, secrets=self.secrets,
            egress=self.settings.egress_policy, template_seconds=seconds,
        )  # fmt: skip
        tasks = TaskActivities(self.sessions)
        audit = AuditActivities(self.sessions, self.settings)
        return [
            http.request, llm.complete, tasks.open, tasks.close, BlobActivities(blobs).get,
            BlobActivities(blobs).put, PureActivities(blobs, threshold).compute,
            audit.purge_expired,
        ]  # fmt: skip
