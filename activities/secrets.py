"""Where activities get a tenant's secrets, and how their values are kept out of results.

Secrets are referenced by name in node configs (`{{ secrets.api_token }}`) and
resolved only inside the activity, so no value enters workflow history. Every
string an activity returns or raises passes through `redact` first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

REDACTED = "***"


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


def redact(value: Any, secret_values: Iterable[str]) -> Any:
    """`value` with every occurrence of a secret value, in any string inside it, masked."""
    needles = sorted({secret for secret in secret_values if secret}, key=len, reverse=True)
    if not needles:
        return value
    return _redact(value, needles)


def _redact(value: Any, needles: list[str]) -> Any:
    if isinstance(value, str):
        for needle in needles:
            value = value.replace(needle, REDACTED)
        return value
    if isinstance(value, dict):
        return {_redact(key, needles): _redact(item, needles) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact(item, needles) for item in value]
    return value
