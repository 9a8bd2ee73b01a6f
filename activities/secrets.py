"""Where activities get a tenant's secrets, and how their values are kept out of results.

Secrets are referenced by name in node configs (`{{ secrets.api_token }}`) and
resolved only inside the activity, so no value enters workflow history. Every
string an activity returns or raises passes through `auterity.redaction` first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class SecretSource(Protocol):
    """Looks up a tenant's secret values; names it does not know are left out of the result."""

    async def get(self, tenant: str, names: set[str]) -> dict[str, str]: ...


class StaticSecretSource:
    """Secrets held in memory: `{tenant: {name: value}}` (empty when none are configured)."""

    def __init__(self, values: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self._values = {tenant: dict(names) for tenant, names in (values or {}).items()}

    async def get(self, tenant: str, names: set[str]) -> dict[str, str]:
        known = self._values.get(tenant, {})
        return {name: known[name] for name in names if name in known}
