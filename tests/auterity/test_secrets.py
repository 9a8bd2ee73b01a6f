"""Secrets as credentials: sealed, bound to hosts, and in production bound to none unless set."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.orm import Session, sessionmaker

from auterity import secrets
from auterity.db import transaction
from auterity.models import Tenant
from auterity.settings import Settings, load_settings


@pytest.fixture
def conf(tmp_path) -> Settings:  # type: ignore[no-untyped-def]
    return load_settings(env="test", home=tmp_path)


@pytest.fixture
def tenant(sessions: sessionmaker[Session]) -> Tenant:
    with transaction(sessions) as session:
        row = Tenant(slug=f"s-{uuid.uuid4().hex[:10]}", name="Secrets Co")
        session.add(row)
    return row


def _put(sessions: sessionmaker[Session], conf: Settings, tenant: Tenant, **fields) -> None:  # type: ignore[no-untyped-def]
    with transaction(sessions, tenant.id) as session:
        secrets.bind_keyring(session, secrets.keyring(conf))
        secrets.put(session, **fields)


async def test_a_secret_carries_the_hosts_it_may_be_sent_to(
    sessions: sessionmaker[Session], conf: Settings, tenant: Tenant
) -> None:
    _put(
        sessions,
        conf,
        tenant,
        name="hook",
        value="v1",
        allowed_hosts=["Chat.Example.", "*.example.org", "10.0.0.1"],
    )
    _put(sessions, conf, tenant, name="hook", value="v2")
    [(name, credential)] = (
        await secrets.SecretStore(sessions, conf).get(tenant.slug, {"hook"})
    ).items()
    assert (name, credential.value) == ("hook", "v2")
    assert credential.allowed_hosts == ("chat.example", "*.example.org", "10.0.0.1")
    assert credential.allows("chat.example") and credential.allows("api.example.org")
    assert not credential.allows("example.org") and not credential.allows("chat.example.evil")


def test_hosts_must_be_host_names_or_addresses() -> None:
    assert secrets.normalize_hosts(["A.example", "a.example", "[::1]"]) == ["a.example", "::1"]
    with pytest.raises(ValueError, match="'https://x' is neither"):
        secrets.normalize_hosts(["https://x"])


async def test_in_production_an_unbound_secret_is_bound_to_no_host(
    sessions: sessionmaker[Session], conf: Settings, tenant: Tenant
) -> None:
    _put(sessions, conf, tenant, name="legacy", value="old")
    development = await secrets.SecretStore(sessions, conf).get(tenant.slug, {"legacy"})
    assert development["legacy"].allowed_hosts is None and development["legacy"].allows("x")
    production = conf.model_copy(update={"env": "production"})
    found = await secrets.SecretStore(sessions, production).get(tenant.slug, {"legacy"})
    assert found["legacy"].allowed_hosts == () and not found["legacy"].allows("x")
    assert found["legacy"].bound_to() == "no host"
