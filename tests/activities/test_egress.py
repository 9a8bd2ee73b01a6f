"""Each tenant's egress (activities/egress.py): the platform's policy with the tenant's own
allow-list merged in, read from the tenant's settings in the database, used by http nodes
and model api_bases of that tenant only."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from urllib.parse import urlsplit

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.blobs import FileBlobStore
from activities.egress import TenantEgress
from activities.http import HttpActivities
from activities.llm import LlmActivities
from activities.secrets import StaticSecretSource
from auterity.egress import TENANT_ALLOW_KEY, EgressClient, EgressPolicy
from auterity.models.tenancy import Tenant
from auterity.security.accounts import create_tenant
from tests.activities.nodes import node_request
from tests.servers import Recorder
from tests.support import free_port

INTRANET = "wiki.corp.test"


async def intranet_resolver(host: str, port: int) -> Sequence[str]:
    """wiki.corp.test is the test service on loopback: an intranet host, as far as the
    policy can tell (its address is not public)."""
    return ["127.0.0.1"] if host == INTRANET else []


def set_allow_list(sessions: sessionmaker[Session], slug: str, entries: list[str]) -> None:
    """What PATCH /v1/tenant writes."""
    with sessions() as session, session.begin():
        session.execute(
            update(Tenant).where(Tenant.slug == slug).values(settings={TENANT_ALLOW_KEY: entries})
        )


@pytest.fixture
def tenants(sessions: sessionmaker[Session]) -> tuple[str, str]:
    with sessions() as session, session.begin():
        return tuple(create_tenant(session, f"eg-{uuid.uuid4().hex[:10]}").slug for _ in "ab")  # type: ignore[return-value]


async def test_a_tenants_allow_list_opens_its_intranet_host_for_it_alone(
    activity_env: ActivityEnvironment,
    blobs: FileBlobStore,
    service: tuple[str, Recorder],
    sessions: sessionmaker[Session],
    tenants: tuple[str, str],
) -> None:
    url, recorder = service
    target = f"http://{INTRANET}:{urlsplit(url).port}/echo"
    mine, other = tenants
    egress = TenantEgress(EgressPolicy(), sessions, seconds=0, resolver=intranet_resolver)
    async with EgressClient(EgressPolicy()) as unused:
        http = HttpActivities(unused, StaticSecretSource(), blobs, tenant_egress=egress)
        try:
            before = len(recorder.requests)
            with pytest.raises(ApplicationError) as caught:
                await activity_env.run(
                    http.request, node_request("http", {"url": target}, tenant=mine)
                )
            assert caught.value.type == "EgressRefused" and caught.value.non_retryable
            assert "loopback" in caught.value.message
            assert len(recorder.requests) == before

            set_allow_list(sessions, mine, [INTRANET])
            done = await activity_env.run(
                http.request, node_request("http", {"url": target}, tenant=mine)
            )
            assert done.output["status"] == 200
            assert len(recorder.requests) == before + 1
            # the other tenant's nodes still cannot reach it
            with pytest.raises(ApplicationError) as caught:
                await activity_env.run(
                    http.request, node_request("http", {"url": target}, tenant=other)
                )
            assert caught.value.type == "EgressRefused"
            # taking the entry out closes it again
            set_allow_list(sessions, mine, [])
            with pytest.raises(ApplicationError):
                await activity_env.run(
                    http.request, node_request("http", {"url": target}, tenant=mine)
                )
            assert len(recorder.requests) == before + 1
        finally:
            await egress.aclose()


async def test_a_model_api_base_is_checked_against_the_tenants_policy(
    activity_env: ActivityEnvironment,
    blobs: FileBlobStore,
    sessions: sessionmaker[Session],
    tenants: tuple[str, str],
) -> None:
    mine, other = tenants
    # (The API would never let a tenant open loopback; this checks only the merge.)
    set_allow_list(sessions, mine, ["127.0.0.0/8"])
    egress = TenantEgress(EgressPolicy(), sessions, seconds=0)
    assert (await egress.policy(mine)).networks and not (await egress.policy(other)).networks
    closed = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens: refused at once
    llm = LlmActivities({"default": [f"openai/gpt-4o-mini@{closed}"]}, blobs, tenant_egress=egress)
    config = {"prompt": "hello"}
    with pytest.raises(ApplicationError) as caught:
        await activity_env.run(llm.complete, node_request("llm", config, tenant=other))
    assert caught.value.type == "EgressRefused" and "127.0.0.1" in caught.value.message
    with pytest.raises(ApplicationError) as caught:
        await activity_env.run(llm.complete, node_request("llm", config, tenant=mine))
    assert caught.value.type != "EgressRefused"  # past the policy: the provider is unreachable
    await egress.aclose()
