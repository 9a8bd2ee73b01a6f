"""Where activities get a tenant's secrets, and how their values are kept out of results.

Secrets are referenced by name in node configs (`{{ secrets.api_token }}`) and
resolved only inside the activity, so no value enters workflow history. Each is a
`Credential`: its value and the hosts it may be sent to. Every string an activity
returns or raises passes through `auterity.redaction` first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from auterity.secrets import Credential

__all__ = ["Credential", "SecretSource", "StaticSecretSource"]


class SecretSource(Protocol):
    """Looks up a tenant's credentials; names it does not know are left out of the result."""

    async def get(self, tenant: str, names: set[str]) -> dict[str, Credential]: ...


class StaticSecretSource:
    """Secrets held in memory: `{tenant: {name: value or Credential}}` (a bare value is not
    bound to any host)."""

    def __init__(self, values: Mapping[str, Mapping[str, str | Credential]] | None = None) -> None:
        self._values = {
            tenant: {
                name: value if isinstance(value, Credential) else Credential(value)
                for name, value in names.items()
            }
            for tenant, names in (values or {}).items()
        }

    async def get(self, tenant: str, names: set[str]) -> dict[str, Credential]:
        known = self._values.get(tenant, {})
        return {name: known[name] for name in names if name in known}
