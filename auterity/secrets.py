"""Tenant secrets: sealed with AES-GCM at rest, opened only for activities.

Values are encrypted under a key derived from `AUTERITY_SECRET_KEY` (HKDF,
purpose "secrets"); each row keeps the id of the key that sealed it and the
tenant id and name are the associated data, so a ciphertext moved to another
row or tenant does not open. Rotation: set the new key, list the old one in
`AUTERITY_SECRET_KEYS_PREVIOUS` (old values still open), run
`auterity secrets reencrypt`, then drop the old key.

A secret is a credential bound to the hosts it may be sent to
(`allowed_hosts`: names, `*.domain`, addresses); activities refuse to send it
anywhere else. One written without hosts is unbound: usable wherever the egress
policy allows outside production, nowhere in production.

The API only ever writes values; `SecretStore.get` (the activities'
`SecretSource`) is the only reader, plus `stored_values`, which the audit trail
uses to redact every stored value.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from auterity.db import transaction
from auterity.egress import host_matches, host_pattern
from auterity.models.base import utcnow
from auterity.models.secrets import Secret
from auterity.models.tenancy import Tenant
from auterity.security.crypto import KeyRing
from auterity.security.scoping import current_tenant, set_tenant
from auterity.settings import Settings

SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
MAX_VALUE_BYTES = 64 * 1024
_KEYRING = "auterity.secrets_keyring"


@dataclass(frozen=True)
class Credential:
    """A secret's value and the hosts it may be sent to (None: not bound to any)."""

    value: str
    allowed_hosts: tuple[str, ...] | None = None

    def allows(self, host: str) -> bool:
        if self.allowed_hosts is None:
            return True
        return any(host_matches(pattern, host) for pattern in self.allowed_hosts)

    def bound_to(self) -> str:
        """The hosts, for messages."""
        if self.allowed_hosts is None:
            return "any host"
        return ", ".join(self.allowed_hosts) or "no host"


def normalize_hosts(entries: Iterable[str]) -> list[str]:
    """Allowed hosts as stored: lower case, unique, in order; `ValueError` naming the first
    entry that is not a host name, `*.domain` or an address."""
    return list(dict.fromkeys(host_pattern(entry) for entry in entries))


class SecretKeysMissing(RuntimeError):
    """A session reads or writes secrets without a key ring: call `bind_keyring` first."""


def keyring(settings: Settings) -> KeyRing:
    """The key ring that seals secrets (current key) and opens them (current and previous)."""
    return KeyRing.from_settings(settings, "secrets")


def bind_keyring(session: Session, ring: KeyRing) -> None:
    """Let `session` seal and open secrets (and the audit trail redact their values)."""
    session.info[_KEYRING] = ring


def session_keyring(session: Session) -> KeyRing:
    ring = session.info.get(_KEYRING)
    if ring is None:
        raise SecretKeysMissing(
            "this session has no secrets key ring (auterity.secrets.bind_keyring)"
        )
    return ring  # type: ignore[no-any-return]


def _aad(tenant_id: str, name: str) -> str:
    return f"{tenant_id}/{name}"


def put(
    session: Session,
    name: str,
    value: str,
    *,
    description: str | None = None,
    created_by: str | None = None,
    allowed_hosts: Iterable[str] | None = None,
) -> tuple[Secret, bool]:
    """Create or replace the session tenant's secret `name`; (row, created). `allowed_hosts`
    None leaves a replaced secret's hosts as they were (a new one unbound)."""
    hosts = normalize_hosts(allowed_hosts) if allowed_hosts is not None else None
    tenant_id = current_tenant(session)
    if tenant_id is None:
        raise SecretKeysMissing("secrets are written in a tenant-scoped session")
    kid, blob = session_keyring(session).encrypt(value, _aad(tenant_id, name))
    row = by_name(session, name)
    if row is None:
        row = Secret(
            tenant_id=tenant_id,
            name=name,
            description=description or "",
            key_id=kid,
            ciphertext=blob,
            version=1,
            created_by=created_by,
            allowed_hosts=hosts,
        )
        session.add(row)
        session.flush()
        return row, True
    row.key_id, row.ciphertext = kid, blob
    row.version += 1
    row.updated_at = utcnow()
    if description is not None:
        row.description = description
    if hosts is not None:
        row.allowed_hosts = hosts
    session.flush()
    return row, False


def by_name(session: Session, name: str) -> Secret | None:
    return session.scalars(select(Secret).where(Secret.name == name)).one_or_none()


def open_secret(session: Session, row: Secret) -> str:
    return session_keyring(session).decrypt(
        row.key_id, row.ciphertext, _aad(row.tenant_id, row.name)
    )


def stored_values(session: Session) -> list[str]:
    """Every secret value of the session's tenant, for redaction only."""
    rows = session.scalars(select(Secret)).all()
    if not rows:
        return []
    return [open_secret(session, row) for row in rows]


def reencrypt(session: Session) -> int:
    """Re-seal the session tenant's secrets sealed by an older key; the number re-sealed."""
    ring = session_keyring(session)
    count = 0
    for row in session.scalars(select(Secret).where(Secret.key_id != ring.current_id)):
        value = open_secret(session, row)
        row.key_id, row.ciphertext = ring.encrypt(value, _aad(row.tenant_id, row.name))
        count += 1
    session.flush()
    return count


class SecretStore:
    """The activities' `SecretSource`: a tenant's credentials by name (tenant = slug). In
    production an unbound secret is bound to no host."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings) -> None:
        self._sessions = sessions
        self._ring = keyring(settings)
        self._unbound: tuple[str, ...] | None = () if settings.secrets_require_hosts else None

    async def get(self, tenant: str, names: set[str]) -> dict[str, Credential]:
        """The credentials of `names` the tenant has; unknown names are left out."""
        if not names:
            return {}
        return await asyncio.to_thread(self._get, tenant, names)

    def _get(self, tenant_slug: str, names: set[str]) -> dict[str, Credential]:
        with transaction(self._sessions) as session:
            tenant = session.scalars(select(Tenant).where(Tenant.slug == tenant_slug)).one_or_none()
            if tenant is None:
                return {}
            set_tenant(session, tenant.id)
            bind_keyring(session, self._ring)
            rows = session.scalars(select(Secret).where(Secret.name.in_(sorted(names)))).all()
            return {
                row.name: Credential(
                    open_secret(session, row),
                    tuple(row.allowed_hosts) if row.allowed_hosts is not None else self._unbound,
                )
                for row in rows
            }

    def reencrypt_all(self) -> int:
        """Re-seal every tenant's secrets under the current key; the number re-sealed."""
        count = 0
        with transaction(self._sessions) as session:
            tenant_ids = list(session.scalars(select(Tenant.id)))
        for tenant_id in tenant_ids:
            with transaction(self._sessions) as session:
                set_tenant(session, tenant_id)
                bind_keyring(session, self._ring)
                count += reencrypt(session)
        return count
