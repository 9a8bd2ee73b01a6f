"""The worker's activities, built by `ActivityRuntime`, run by a real Temporal worker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.worker import Worker

from auterity import secrets
from auterity.db import transaction
from auterity.dev import DEV_EGRESS_ALLOW
from auterity.graph import contracts
from auterity.graph.contracts import CloseTaskInput, OpenTaskInput, is_blob_ref
from auterity.models import Tenant
from auterity.models.tasks import HumanTask
from auterity.settings import Settings, load_settings
from tests.activities.nodes import node_request
from tests.activities.probe_workflow import ActivityProbe, ProbeStep
from tests.servers import Recorder
from workers.activities import ActivityRuntime

pytestmark = pytest.mark.filterwarnings("ignore:.*`ReadOnly` qualifier:UserWarning")

TOKEN = "worker-secret-42"


@pytest.fixture
def worker_settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        env="test",
        home=tmp_path,
        database_url=database_url,
        blob_threshold_bytes=1024,
        model_routes={"default": ["mock/echo"]},
        egress_allow=DEV_EGRESS_ALLOW.split(","),
    )


@pytest.fixture
def tenant_slug(sessions: sessionmaker[Session], worker_settings: Settings) -> str:
    """A tenant with the stored secret `token`, sealed as the API would seal it."""
    with transaction(sessions) as session:
        row = Tenant(slug=f"w-{uuid.uuid4().hex[:10]}", name="Worker Co")
        session.add(row)
    with transaction(sessions, row.id) as session:
        secrets.bind_keyring(session, secrets.keyring(worker_settings))
        secrets.put(session, "token", TOKEN)
        secrets.put(session, "partner", TOKEN, allowed_hosts=["api.partner.example"])
    return row.slug


@pytest.fixture
async def runtime(worker_settings: Settings) -> AsyncIterator[ActivityRuntime]:
    """The worker's own runtime: secrets come from the database-backed store."""
    async with ActivityRuntime(worker_settings) as runtime:
        yield runtime


@pytest.fixture
async def default_runtime(database_url: str, tmp_path: Path) -> AsyncIterator[ActivityRuntime]:
    """The worker's runtime with the egress policy production starts with: no allow-list."""
    settings = load_settings(env="test", home=tmp_path, database_url=database_url)
    async with ActivityRuntime(settings) as runtime:
        yield runtime


async def _probe(
    client: Client, runtime: ActivityRuntime, task_queue: str, steps: list[ProbeStep]
) -> list[Any]:
    async with Worker(
        client, task_queue=task_queue, workflows=[ActivityProbe], activities=runtime.activities()
    ):
        return await client.execute_workflow(
            ActivityProbe.run, steps, id=f"probe-{uuid.uuid4()}", task_queue=task_queue
        )


def _step(activity: str, argument: Any) -> ProbeStep:
    return ProbeStep(activity=activity, argument=argument.model_dump(mode="json"))


async def _http_failure(
    client: Client, runtime: ActivityRuntime, task_queue: str, request: Any
) -> ApplicationError:
    """How an http node's activity failed, for good, on a real worker."""
    with pytest.raises(WorkflowFailureError) as caught:
        await _probe(client, runtime, task_queue, [_step(contracts.HTTP_ACTIVITY, request)])
    cause = caught.value.cause
    assert isinstance(cause, ActivityError) and isinstance(cause.cause, ApplicationError)
    return cause.cause


async def test_a_flaky_endpoint_is_retried_with_one_idempotency_key(
    temporal_client: Client,
    runtime: ActivityRuntime,
    task_queue: str,
    tenant_slug: str,
    service: tuple[str, Recorder],
) -> None:
    url, recorder = service
    execution_id = f"{tenant_slug}:graph:{uuid.uuid4().hex[:8]}"
    key = f"{execution_id}:notify"
    recorder.failures_left[key] = 2
    request = node_request(
        "http",
        {"method": "POST", "url": f"{url}/flaky", "headers": {"X-Token": "{{ secrets.token }}"}},
        tenant=tenant_slug,
        execution_id=execution_id,
        node_id="notify",
    )
    [result] = await _probe(
        temporal_client, runtime, task_queue, [_step(contracts.HTTP_ACTIVITY, request)]
    )
    assert result["output"]["body"] == {"ok": True, "key": key}
    assert recorder.keys[key] == 3
    assert [r["headers"]["x-token"] for r in recorder.calls("/flaky")[-3:]] == [TOKEN] * 3


async def test_a_client_error_is_not_retried(
    temporal_client: Client,
    runtime: ActivityRuntime,
    task_queue: str,
    tenant_slug: str,
    service: tuple[str, Recorder],
) -> None:
    url, recorder = service
    before = len(recorder.calls("/status/403"))
    request = node_request("http", {"url": f"{url}/status/403"}, tenant=tenant_slug)
    error = await _http_failure(temporal_client, runtime, task_queue, request)
    assert error.type == "HttpClientError" and error.non_retryable
    assert len(recorder.calls("/status/403")) == before + 1


async def test_large_outputs_travel_as_refs_and_blob_get_reads_them(
    temporal_client: Client,
    runtime: ActivityRuntime,
    task_queue: str,
    tenant_slug: str,
    service: tuple[str, Recorder],
) -> None:
    url, _ = service
    request = node_request("http", {"url": f"{url}/big?items=200"}, tenant=tenant_slug)
    [fetched] = await _probe(
        temporal_client, runtime, task_queue, [_step(contracts.HTTP_ACTIVITY, request)]
    )
    ref = fetched["output"]
    assert is_blob_ref(ref)
    read = contracts.BlobGetInput(tenant=tenant_slug, ref=ref)
    [value] = await _probe(temporal_client, runtime, task_queue, [_step(contracts.BLOB_GET, read)])
    assert len(value["body"]["items"]) == 200


async def test_llm_mock_route_and_the_task_lifecycle(
    temporal_client: Client,
    runtime: ActivityRuntime,
    task_queue: str,
    tenant_slug: str,
    sessions: sessionmaker[Session],
) -> None:
    execution_id = f"{tenant_slug}:graph:{uuid.uuid4().hex[:8]}"
    task_id = str(uuid.uuid4())
    opened = OpenTaskInput(
        tenant=tenant_slug,
        execution_id=execution_id,
        node_id="approve",
        task_id=task_id,
        title="Ship it?",
        assignees=["role:manager"],
        due_at=datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC),
    )
    closed = CloseTaskInput(
        tenant=tenant_slug, task_id=task_id, status="completed", decision="approved", actor="ann"
    )
    llm = node_request("llm", {"prompt": "ship {{ inputs.what }}"}, tenant=tenant_slug)
    llm.scope["inputs"] = {"what": "v2"}
    completion, first, second, _ = await _probe(
        temporal_client,
        runtime,
        task_queue,
        [
            _step(contracts.LLM_ACTIVITY, llm),
            _step(contracts.TASK_OPEN, opened),
            _step(contracts.TASK_OPEN, opened),
            _step(contracts.TASK_CLOSE, closed),
        ],
    )
    assert completion["output"]["text"] == "ship v2"
    assert completion["usage"]["total_tokens"] > 0
    assert (first["created"], second["created"]) == (True, False)
    with sessions() as session:
        tenant_id = session.scalars(select(Tenant.id).where(Tenant.slug == tenant_slug)).one()
    with transaction(sessions, tenant_id) as session:
        task = session.get(HumanTask, task_id)
        assert task is not None
        assert (task.status, task.decision, task.completed_by) == ("completed", "approved", "ann")


async def test_an_http_node_cannot_read_the_platform_s_own_api(
    temporal_client: Client,
    default_runtime: ActivityRuntime,
    task_queue: str,
    tenant_slug: str,
    api_url: str,
) -> None:
    """Attack: an editor's http node used to fetch the API's /openapi.json over loopback."""
    request = node_request("http", {"url": f"{api_url}/openapi.json"}, tenant=tenant_slug)
    error = await _http_failure(temporal_client, default_runtime, task_queue, request)
    assert error.type == "EgressRefused" and error.non_retryable
    assert "egress to 127.0.0.1 refused: loopback address" in error.message
    assert "AUTERITY_EGRESS_ALLOW" in error.message


async def test_a_stored_secret_is_not_sent_to_a_host_it_is_not_bound_to(
    temporal_client: Client,
    runtime: ActivityRuntime,
    task_queue: str,
    tenant_slug: str,
    service: tuple[str, Recorder],
) -> None:
    url, recorder = service
    before = len(recorder.requests)
    request = node_request(
        "http", {"url": f"{url}/echo", "headers": {"X-Key": "{{ secrets.partner }}"}},
        tenant=tenant_slug,
    )  # fmt: skip
    error = await _http_failure(temporal_client, runtime, task_queue, request)
    assert error.type == "SecretRefused" and error.non_retryable
    assert "secret 'partner' may not be sent to 127.0.0.1" in error.message
    assert TOKEN not in error.message
    assert len(recorder.requests) == before


async def test_the_runtime_merges_each_tenants_own_allow_list(
    worker_settings: Settings, sessions: sessionmaker[Session], tenant_slug: str
) -> None:
    """What PATCH /v1/tenant stores reaches that tenant's nodes through the worker's runtime."""
    strict = worker_settings.model_copy(update={"egress_allow": []})
    with transaction(sessions) as session:
        row = session.scalars(select(Tenant).where(Tenant.slug == tenant_slug)).one()
        row.settings = {"egress_allow": ["10.20.0.0/16", "wiki.corp.test"]}
    async with ActivityRuntime(strict) as runtime:
        policy = await runtime.tenant_egress.policy(tenant_slug)
        policy.check("wiki.corp.test", "10.1.2.3")  # the tenant's host: allowed
        policy.check("db.corp.test", "10.20.4.5")  # inside the tenant's network: allowed
        with pytest.raises(Exception, match="AUTERITY_EGRESS_ALLOW"):
            policy.check("db.corp.test", "10.30.4.5")
        other = await runtime.tenant_egress.policy("no-such-tenant")
        with pytest.raises(Exception, match="private"):
            other.check("wiki.corp.test", "10.20.4.5")
