"""The activity instances a worker registers, built with their dependencies."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from temporalio import activity

from activities.audit import AuditActivities
from activities.blobs import BlobActivities, blob_store
from activities.egress import TenantEgress
from activities.http import HttpActivities
from activities.pure import PureActivities
from activities.registry import RegistryActivities
from activities.secrets import SecretSource
from activities.tasks import TaskActivities
from auterity import telemetry
from auterity.db import make_engine, make_sessionmaker
from auterity.egress import EgressClient
from auterity.gateway.cache import RedisResponseCache
from auterity.gateway.ledger import Ledger
from auterity.gateway.registry import RegistryStore
from auterity.gateway.store import RouteStore
from auterity.graph.contracts import LLM_ACTIVITY, NodeActivityInput, NodeActivityOutput
from auterity.secrets import SecretStore
from auterity.settings import Settings

if TYPE_CHECKING:
    from activities.llm import LlmActivities


class ActivityRuntime:
    """Owns what activities share (database engine, HTTP client) for the worker's lifetime."""

    def __init__(self, settings: Settings, secrets: SecretSource | None = None) -> None:
        self.settings = settings
        self.blobs = blob_store(settings.blob_url, settings.blob_dir)
        self.engine = make_engine(
            settings.database_url_resolved, sqlite_wait_seconds=settings.sqlite_wait_seconds
        )
        telemetry.instrument_engine(self.engine)
        self.sessions = make_sessionmaker(self.engine)
        self.secrets: SecretSource = secrets or SecretStore(self.sessions, settings)
        self.http = EgressClient(settings.egress_policy)
        self.tenant_egress = TenantEgress(
            settings.egress_policy, self.sessions, seconds=max(settings.cache_seconds, 1.0)
        )
        telemetry.instrument_http_client(self.http)
        self.cache = RedisResponseCache(settings.redis_url) if settings.redis_url else None

    async def __aenter__(self) -> ActivityRuntime:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.http.aclose()
        await self.tenant_egress.aclose()
        if self.cache is not None:
            await self.cache.aclose()
        self.engine.dispose()

    def activities(self) -> list[Callable[..., Any]]:
        """Every activity function, bound to this runtime's dependencies."""
        blobs = self.blobs
        threshold = self.settings.blob_threshold_bytes
        seconds = self.settings.template_deadline_seconds
        http = HttpActivities(
            self.http, self.secrets, blobs, threshold, template_seconds=seconds,
            tenant_egress=self.tenant_egress,
        )  # fmt: skip
        registry = RegistryStore(self.sessions)
        # LiteLLM's import costs ~200 MB; a worker pays it on its first llm node unless told
        # to preload (AUTERITY_WORKER_PRELOAD_LLM). With AUTERITY_LLM_TASK_QUEUE set, only
        # llm nodes that run as local activities come here.
        model = self.llm() if self.settings.worker_preload_llm else LlmOnFirstCall(self.llm)
        tasks = TaskActivities(self.sessions)
        audit = AuditActivities(self.sessions, self.settings)
        stored = BlobActivities(blobs)
        return [
            http.request, model.complete, tasks.open, tasks.close, stored.get, stored.put,
            stored.slice, PureActivities(blobs, threshold).compute, audit.purge_expired,
            RegistryActivities(registry).pin,
        ]  # fmt: skip

    def llm(self) -> LlmActivities:
        """The llm node activity (imports LiteLLM)."""
        from activities.llm import LlmActivities

        return LlmActivities(
            self.settings.model_routes, self.blobs, self.settings.blob_threshold_bytes,
            secrets=self.secrets, egress=self.settings.egress_policy,
            template_seconds=self.settings.template_deadline_seconds,
            tenant_egress=self.tenant_egress, routes=RouteStore(self.sessions),
            ledger=Ledger(self.sessions), cache=self.cache,
            registry=RegistryStore(self.sessions),
        )  # fmt: skip


class LlmOnFirstCall:
    """`node.llm`, registered without importing LiteLLM: the import costs a worker about
    200 MB of memory and seconds of start-up, paid when it first runs an llm node (off the
    event loop) rather than by every worker, most of whose runs may never call a model."""

    def __init__(self, build: Callable[[], LlmActivities]) -> None:
        self._build = build
        self._building: asyncio.Future[LlmActivities] | None = None

    async def built(self) -> LlmActivities:
        if self._building is None:
            self._building = asyncio.ensure_future(asyncio.to_thread(self._build))
        # Shielded: an attempt that times out during the import leaves it to the next one.
        return await asyncio.shield(self._building)

    @activity.defn(name=LLM_ACTIVITY)
    async def complete(self, request: NodeActivityInput) -> NodeActivityOutput:
        return await (await self.built()).complete(request)
