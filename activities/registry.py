"""`registry.pin`: the versions a run's registry references name when it starts.

A run whose input carries aliases (a schedule's, fixed when it was saved) pins them
itself, first thing, through this activity; the tenant is the run's, so a run can only
ever read its own tenant's registry."""

from __future__ import annotations

from typing import Protocol

from temporalio import activity
from temporalio.exceptions import ApplicationError

from auterity.gateway.registry import UnknownReference
from auterity.graph.errors import ErrorType
from auterity.graph.references import REGISTRY_PIN, PinInput, PinOutput, RegistryReference


class ReferenceSource(Protocol):
    async def resolve(self, tenant: str, wanted: list[RegistryReference]) -> dict[str, int]: ...


class RegistryActivities:
    def __init__(self, registry: ReferenceSource) -> None:
        self.registry = registry

    @activity.defn(name=REGISTRY_PIN)
    async def pin(self, request: PinInput) -> PinOutput:
        try:
            versions = await self.registry.resolve(request.tenant, request.references)
        except UnknownReference as exc:
            raise ApplicationError(
                f"registry: {exc}", type=ErrorType.NODE_CONFIG_INVALID, non_retryable=True
            ) from None
        return PinOutput(versions=versions)
