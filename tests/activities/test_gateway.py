"""The `llm` activity through a tenant's stored routes and budgets: real LiteLLM over real
HTTP to an OpenAI-compatible server on loopback, the real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.blobs import FileBlobStore
from activities.llm import LlmActivities
from activities.secrets import Credential, StaticSecretSource
from auterity.db import transaction
from auterity.gateway.cache import RedisResponseCache
from auterity.gateway.ledger import Ledger
from auterity.gateway.registry import RegistryStore
from auterity.gateway.routes import RouteConfig, to_nanos
from auterity.gateway.store import RouteStore
from auterity.models.gateway import (
    Budget,
    BudgetWindow,
    LedgerEntry,
    ModelRoute,
    RegistryEntry,
    RegistryVersion,
)
from auterity.security.accounts import create_tenant
from tests.activities.nodes import node_request
from tests.conftest import IN_CI
from tests.servers import ChatServer
from tests.support import LOOPBACK_EGRESS

pytestmark = pytest.mark.filterwarnings("ignore:.*`ReadOnly` qualifier:UserWarning")

REDIS_URL = os.environ.get("AUTERITY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
GPT_4O_MINI = (1.5e-07, 6e-07)  # LiteLLM's price map: USD per prompt, completion token
PROVIDER_KEY = "sk-route-key-0003"


class Tenant:
    """A tenant in the database, with helpers that write its routes and budgets."""

    def __init__(self, sessions: sessionmaker[Session], base: str) -> None:
        self.sessions = sessions
        self.base = base
        self.slug = f"gw-{uuid.uuid4().hex[:10]}"
        with transaction(sessions) as session:
            self.id = create_tenant(session, self.slug).id

    def route(self, name: str, deployments: list[dict[str, Any]], **config: Any) -> None:
        for deployment in deployments:
            deployment.setdefault("api_base", self.base)
        checked = RouteConfig.model_validate({"deployments": deployments, **config})
        with transaction(self.sessions, self.id) as session:
            row = session.scalars(select(ModelRoute).where(ModelRoute.name == name)).one_or_none()
            if row is None:
                session.add(ModelRoute(name=name, config=checked.model_dump(mode="json")))
            else:
                row.config = checked.model_dump(mode="json")
                row.version += 1

    def budget(self, name: str, usd: float, **scope: Any) -> str:
        with transaction(self.sessions, self.id) as session:
            row = Budget(
                name=name,
                period=scope.pop("period", "daily"),
                limit_nanos=to_nanos(usd),
                enforcement=scope.pop("enforcement", "hard"),
                **scope,
            )
            session.add(row)
            session.flush()
            return row.id

    def entries(self) -> list[LedgerEntry]:
        with transaction(self.sessions, self.id) as session:
            return list(session.scalars(select(LedgerEntry)))

    def window(self, budget_id: str) -> BudgetWindow:
        with transaction(self.sessions, self.id) as session:
            return session.scalars(
                select(BudgetWindow).where(BudgetWindow.budget_id == budget_id)
            ).one()

    def request(self, config: dict[str, Any], **kwargs: Any) -> Any:
        kwargs.setdefault("execution_id", f"{self.slug}:graph-1:{uuid.uuid4().hex}")
        return node_request("llm", config, tenant=self.slug, **kwargs)


@pytest.fixture
def tenant_of(sessions: sessionmaker[Session], chat_server: ChatServer) -> Callable[[], Tenant]:
    return lambda: Tenant(sessions, f"{chat_server.url}/v1")


@pytest.fixture
def gateway(sessions: sessionmaker[Session], tmp_path: Path) -> Callable[..., LlmActivities]:
    def _make(
        secrets: StaticSecretSource | None = None, cache: RedisResponseCache | None = None
    ) -> LlmActivities:
        return LlmActivities(
            {"default": ["mock/echo"]},
            FileBlobStore(tmp_path / "blobs"),
            secrets=secrets,
            egress=LOOPBACK_EGRESS,
            routes=RouteStore(sessions),
            ledger=Ledger(sessions),
            cache=cache,
            registry=RegistryStore(sessions),
        )

    return _make


@pytest.fixture
async def redis_cache() -> AsyncIterator[RedisResponseCache]:
    """The Redis that runs on this machine (AUTERITY_TEST_REDIS_URL elsewhere)."""
    cache = RedisResponseCache(REDIS_URL)
    try:
        await cache.redis.ping()
    except Exception as exc:  # noqa: BLE001 - any connection failure: no Redis here
        if IN_CI:
            pytest.fail(f"Redis at {REDIS_URL} is not reachable: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} is not reachable")
    yield cache
    await cache.aclose()


async def _fail(env: ActivityEnvironment, llm: LlmActivities, request: Any) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        await env.run(llm.complete, request)
    return caught.value


async def test_a_tenant_route_answers_with_deployment_tokens_and_cost(
    activity_env: ActivityEnvironment,
    gateway: Callable[..., LlmActivities],
    tenant_of: Callable[[], Tenant],
) -> None:
    tenant = tenant_of()
    tenant.route("fast", [{"model": "openai/gpt-4o-mini"}])
    llm = gateway()
    result = await activity_env.run(
        llm.complete, tenant.request({"route": "fast", "prompt": "hello"})
    )
    expected = 7 * GPT_4O_MINI[0] + 3 * GPT_4O_MINI[1]
    assert result.output["text"] == "hello"
    assert result.output["deployment"] == "fast#0"
    assert result.output["route"] == "fast"
    assert result.output["model"] == "openai/gpt-4o-mini"
    assert result.output["usage"]["total_tokens"] == 10
    assert result.output["cost"] == pytest.approx(expected, rel=1e-6)
    assert result.output["cost_known"] is True and result.cost == result.output["cost"]
    [entry] = tenant.entries()
    assert entry.status == "settled" and entry.cost_nanos == to_nanos(expected)
    assert (entry.prompt_tokens, entry.completion_tokens) == (7, 3)
    assert (entry.deployment, entry.route, entry.node_id) == ("fast#0", "fast", "call")


async def test_an_unpriced_model_costs_null_and_says_so(
    activity_env: ActivityEnvironment,
    gateway: Callable[..., LlmActivities],
    tenant_of: Callable[[], Tenant],
) -> None:
    tenant = tenant_of()
    tenant.route("local", [{"model": "openai/echo"}])
    tenant.route("priced", [{"model": "openai/echo", **_price(0.001, 0.002)}])
    llm = gateway()
    unpriced = await activity_env.run(
        llm.complete, tenant.request({"route": "local", "prompt": "hi"})
    )
    assert unpriced.output["cost"] is None and unpriced.cost is None
    assert unpriced.output["cost_known"] is False
    priced = await activity_env.run(
        llm.complete, tenant.request({"route": "priced", "prompt": "hi"})
    )
    assert priced.output["cost"] == pytest.approx(7 * 0.001 + 3 * 0.002)
    by_route = {entry.route: entry for entry in tenant.entries()}
    assert by_route["local"].cost_nanos is None and not by_route["local"].cost_known
    assert by_route["priced"].cost_nanos == to_nanos(0.013) and by_route["priced"].cost_known


async def test_a_priced_call_without_max_tokens_is_held_to_what_was_reserved(
    activity_env: ActivityEnvironment,
    gateway: Callable[..., LlmActivities],
    tenant_of: Callable[[], Tenant],
    chat_server: ChatServer,
) -> None:
    """The reservation assumes the longest answer the deployments allow; the provider is
    told that bound, so no answer can cost more than was held. Unpriced calls are not."""
    tenant = tenant_of()
    tenant.route("priced", [
        {"model": "openai/echo", "max_output_tokens": 300, **_price(0.001, 0.002)},
        {"model": "openai/echo", "max_output_tokens": 200, **_price(0.001, 0.002)},
    ])  # fmt: skip
    tenant.route("local", [{"model": "openai/echo"}])
    llm = gateway()
    await activity_env.run(llm.complete, tenant.request({"route": "priced", "prompt": "hi"}))
    assert chat_server.requests[-1]["max_tokens"] == 200
    await activity_env.run(llm.complete, tenant.request({"route": "local", "prompt": "hi"}))
    assert "max_tokens" not in chat_server.requests[-1]
    await activity_env.run(
        llm.complete, tenant.request({"route": "priced", "prompt": "hi", "max_tokens": 50})
    )
    assert chat_server.requests[-1]["max_tokens"] == 50


async def test_the_fallback_route_answers_when_the_primary_fails_with_500(
    activity_env: ActivityEnvironment,
    gateway: Callable[..., LlmActivities],
    tenant_of: Callable[[], Tenant],
    chat_server: ChatServer,
) -> None:
    tenant = tenant_of()
    tenant.route("backup", [{"model": "openai/say:from-backup"}])
    tenant.route("primary", [{"model": "openai/broken"}], fallbacks=["backup"])
    before = len(chat_server.requests)
    result = await activity_env.run(
        gateway().complete, tenant.request({"route": "primary", "prompt": "hi"})
    )
    assert result.output["text"] == "from-backup"
    assert result.output["deployment"] == "backup#0"
    assert chat_server.models()[before:] == ["broken", "say:from-backup"]


async def test_weights_share_calls_within_ten_points_over_200_calls(
    activity_env: ActivityEnvironment,
    gateway: Callable[..., LlmActivities],
    tenant_of: Callable[[], Tenant],
) -> None:
    tenant = tenant_of()
    tenant.route(
        "split",
        [{"model": "openai/say:heavy", "weight": 3}, {"model": "openai/say:light", "weight": 1}],
    )
    llm = gateway()
    answers: Counter[str] = Counter()
    for _ in range(200):
        result = await activity_env.run(
            llm.complete, tenant.request({"route": "split", "prompt": "x"})
        )
        answers[result.output["deployment"]] += 1
    assert answers.total() == 200
    share = answers["split#0"] / 200
    assert abs(share - 0.75) <= 0.10, answers


async def test_a_deployment_answering_429_is_cooled_down(
    activity_env: ActivityEnvironment,
    gateway: Callable[..., LlmActivities],
    tenant_of: Callable[[], Tenant],
    chat_server: ChatServer,
) -> None:
    tenant = tenant_of()
    tenant.route(
        "throttled",
        [{"model": "openai/limited"}, {"model": "openai/say:spare"}],
        allowed_fails=1,
        cooldown_seconds=300,
    )
    llm = gateway()
    before = len(chat_server.requests)
    outcomes: list[str] = []
    for _ in range(30):
        try:
            result = await activity_env.run(
                llm.complete, tenant.request({"route": "throttled", "prompt": "x"})
            )
            outcomes.append(result.output["deployment"])
        except ApplicationError as error:
            assert error.type == "LlmProviderError" and not error.non_retryable
            outcomes.append("429")
    limited = chat_server.models()[before:].count("limited")
    assert 1 <= limited <= 3, outcomes
    assert outcomes[-20:] == ["throttled#1"] * 20


async def test_a_tenant_cannot_use_another_tenants_route(
    activity_env: ActivityEnvironment,
    gateway: Callable[..., LlmActivities],
    tenant_of: Callable[[], Tenant],
    chat_server: ChatServer,
) -> None:
    owner, intruder = tenant_of(), tenant_of()
    owner.route("private", [{"model": "openai/say:owner-only"}])
    before = len(chat_server.requests)
    error = await _fail(
        activity_env, gateway(), intruder.request({"route": "private", "prompt": "hi"})
    )
    assert error.type == "UnknownRoute" and error.non_retryable
    assert len(chat_server.requests) == before


async def test_a_route_key_comes_from_a_secret_bound_to_its_host(
    activity_env: ActivityEnvironment,
    gateway: Callable[..., LlmActivities],
    tenant_of: Callable[[], Tenant],
    chat_server: ChatServer,
) -> None:
    tenant = tenant_of()
    secrets = StaticSecretSource(
        {
            tenant.slug: {
                "local_key": Credential(PROVIDER_KEY, ("127.0.0.1",)),
                "cloud_key": Credential(PROVIDER_KEY, ("api.openai.com",)),
            }
        }
    )
    tenant.route("keyed", [{"model": "openai/echo", "api_key_secret": "local_key"}])
    tenant.route("misbound", [{"model": "openai/echo", "api_key_secret": "cloud_key"}])
    llm = gateway(secrets)
    result = await activity_env.run(
        llm.complete, tenant.request({"route": "keyed", "prompt": PROVIDER_KEY})
    )
    assert chat_server.keys[-1] == f"Bearer {PROVIDER_KEY}"
    assert PROVIDER_KEY not in result.output["text"]  # masked like any secret value
    before = len(chat_server.requests)
    error = await _fail(activity_env, llm, tenant.request({"route": "misbound", "prompt": "x"}))
    assert error.type == "SecretRefused" and "may not be sent to 127.0.0.1" in error.message
    assert len(chat_server.requests) == before


async def test_an_exhausted_hard_budget_fails_the_node_for_good_naming_it(
    activity_env: ActivityEnvironment,
    gateway: Callable[..., LlmActivities],
    tenant_of: Callable[[], Tenant],
    chat_server: ChatServer,
) -> None:
    tenant = tenant_of()
    tenant.route("priced", [{"model": "openai/echo", **_price(0.001, 0.001)}])
    tenant.budget("pocket-money", 0.005)
    before = len(chat_server.requests)
    error = await _fail(
        activity_env,
        gateway(),
        tenant.request({"route": "priced", "prompt": "hi", "max_tokens": 10}),
    )
    assert error.type == "BudgetExhausted" and error.non_retryable
    assert "budget 'pocket-money' is exhausted" in error.message
    assert len(chat_server.requests) == before
    assert tenant.entries() == []


async def test_a_failed_call_releases_its_reservation(
    activity_env: ActivityEnvironment,
    gateway: Callable[..., LlmActivities],
    tenant_of: Callable[[], Tenant],
) -> None:
    tenant = tenant_of()
    tenant.route("down", [{"model": "openai/broken", **_price(0.001, 0.001)}])
    budget = tenant.budget("daily", 10.0)
    error = await _fail(activity_env, gateway(), tenant.request({"route": "down", "prompt": "x"}))
    assert error.type == "LlmProviderError"
    [entry] = tenant.entries()
    assert entry.status == "released" and entry.reserved_nanos > 0
    window = tenant.window(budget)
    assert (window.reserved_nanos, window.spent_nanos) == (0, 0)


async def test_budgets_count_only_their_graph_or_route(
    activity_env: ActivityEnvironment,
    gateway: Callable[..., LlmActivities],
    tenant_of: Callable[[], Tenant],
) -> None:
    tenant = tenant_of()
    tenant.route("a", [{"model": "openai/echo", **_price(0.001, 0.001)}])
    tenant.route("b", [{"model": "openai/echo", **_price(0.001, 0.001)}])
    on_a = tenant.budget("route-a", 1.0, route="a")
    on_other_graph = tenant.budget("graph-9", 1.0, graph_id="graph-9")
    on_tenant = tenant.budget("everything", 1.0, enforcement="warn")
    llm = gateway()
    for route in ("a", "b"):
        config = {"route": route, "prompt": "x", "max_tokens": 10}
        await activity_env.run(llm.complete, tenant.request(config))
    assert tenant.window(on_a).spent_nanos == to_nanos(0.010)
    assert tenant.window(on_tenant).spent_nanos == to_nanos(0.020)
    with pytest.raises(Exception, match="NoResultFound|No row"):
        tenant.window(on_other_graph)


async def test_fifty_concurrent_calls_never_spend_past_a_budget_admitting_ten(
    activity_env: ActivityEnvironment,
    gateway: Callable[..., LlmActivities],
    tenant_of: Callable[[], Tenant],
    database_engine_name: str,
) -> None:
    """The worst case (3 completion tokens at $0.01, prompts free) is what each call costs,
    so the $0.30 budget admits exactly ten calls however they interleave."""
    tenant = tenant_of()
    tenant.route("metered", [{"model": "openai/echo", **_price(0.0, 0.01)}])
    budget = tenant.budget("ten-calls", 0.30)
    llm = gateway()
    config = {"route": "metered", "prompt": "x", "max_tokens": 3}

    async def call() -> str:
        try:
            await activity_env.run(llm.complete, tenant.request(config))
        except ApplicationError as error:
            return error.type or "?"
        return "ok"

    outcomes = Counter(await asyncio.gather(*(call() for _ in range(50))))
    window = tenant.window(budget)
    print(f"{database_engine_name}: {dict(outcomes)}, spent {window.spent_nanos} of 300000000")
    assert outcomes == {"ok": 10, "BudgetExhausted": 40}
    assert window.spent_nanos == to_nanos(0.30) and window.reserved_nanos == 0
    settled = [entry for entry in tenant.entries() if entry.status == "settled"]
    assert len(settled) == 10 and sum(e.cost_nanos or 0 for e in settled) <= to_nanos(0.30)


async def test_a_cached_route_answers_repeats_from_redis_at_zero_cost_per_tenant(
    activity_env: ActivityEnvironment,
    gateway: Callable[..., LlmActivities],
    tenant_of: Callable[[], Tenant],
    chat_server: ChatServer,
    redis_cache: RedisResponseCache,
) -> None:
    first, second = tenant_of(), tenant_of()
    for tenant in (first, second):
        tenant.route("cached", [{"model": "openai/echo", **_price(0.001, 0.001)}], cache_seconds=60)
    first.route("plain", [{"model": "openai/echo", **_price(0.001, 0.001)}])
    llm = gateway(cache=redis_cache)
    config = {"route": "cached", "prompt": f"same {uuid.uuid4().hex}", "max_tokens": 5}
    before = len(chat_server.requests)
    paid = await activity_env.run(llm.complete, first.request(config))
    free = await activity_env.run(llm.complete, first.request(config))
    assert len(chat_server.requests) == before + 1
    assert (paid.output["cached"], paid.cost) == (False, pytest.approx(0.010))
    assert (free.output["cached"], free.cost, free.output["cost_known"]) == (True, 0.0, True)
    assert free.output["text"] == paid.output["text"]
    assert free.output["deployment"] == "cached#0"
    entries = sorted(first.entries(), key=lambda e: e.cached)
    assert [(e.status, e.cached, e.cost_nanos) for e in entries] == [
        ("settled", False, to_nanos(0.010)),
        ("settled", True, 0),
    ]

    # Another prompt, another route, another tenant: each asks the model.
    await activity_env.run(llm.complete, first.request({**config, "prompt": "different"}))
    await activity_env.run(llm.complete, first.request({**config, "route": "plain"}))
    other = await activity_env.run(llm.complete, second.request(config))
    assert other.output["cached"] is False
    assert len(chat_server.requests) == before + 4

    # A new version of the route starts a new cache.
    first.route("cached", [{"model": "openai/echo", **_price(0.001, 0.001)}], cache_seconds=60)
    again = await activity_env.run(llm.complete, first.request(config))
    assert again.output["cached"] is False and len(chat_server.requests) == before + 5


def _price(prompt: float, completion: float) -> dict[str, float]:
    return {"input_cost_per_token": prompt, "output_cost_per_token": completion}


async def test_a_prompt_ref_must_have_been_pinned_when_the_run_started(
    activity_env: ActivityEnvironment,
    gateway: Callable[..., LlmActivities],
    tenant_of: Callable[[], Tenant],
    chat_server: ChatServer,
) -> None:
    tenant = tenant_of()
    before = len(chat_server.requests)
    unpinned = await _fail(
        activity_env, gateway(), tenant.request({"prompt_ref": "triage@production"})
    )
    assert unpinned.type == "NodeConfigInvalid" and unpinned.non_retryable
    assert "was not pinned" in unpinned.message
    missing = await _fail(
        activity_env,
        gateway(),
        tenant.request({"prompt_ref": "triage@production", "prompt_version": 4}),
    )
    assert missing.type == "NodeConfigInvalid" and "has no version 4" in missing.message
    assert len(chat_server.requests) == before


async def test_a_model_ref_reads_only_its_own_tenants_registry(
    activity_env: ActivityEnvironment,
    gateway: Callable[..., LlmActivities],
    tenant_of: Callable[[], Tenant],
    sessions: sessionmaker[Session],
    chat_server: ChatServer,
) -> None:
    """A call whose config names another tenant's model version (as a forged run input
    would) finds nothing: the registry is read in the calling tenant only."""
    owner, other = tenant_of(), tenant_of()
    owner.route("fast", [{"model": "openai/echo"}])
    with transaction(sessions, owner.id) as session:
        entry = RegistryEntry(kind="model", name="clf")
        session.add(entry)
        session.flush()
        session.add(RegistryVersion(entry_id=entry.id, version=1, spec={"route": "fast"}))
    config = {"model_ref": "clf@production", "model_version": 1, "prompt": "hi"}
    answered = await activity_env.run(gateway().complete, owner.request(config))
    assert answered.output["route"] == "fast" and answered.output["text"] == "hi"
    before = len(chat_server.requests)
    refused = await _fail(activity_env, gateway(), other.request(config))
    assert refused.type == "NodeConfigInvalid" and refused.non_retryable
    assert "model_ref: model 'clf' has no version 1" in refused.message
    unpinned = await _fail(
        activity_env, gateway(), owner.request({"model_ref": "clf@production", "prompt": "hi"})
    )
    assert "model_ref: 'clf@production' was not pinned" in unpinned.message
    assert len(chat_server.requests) == before


async def test_a_call_for_a_tenant_that_does_not_exist_fails_for_good(
    activity_env: ActivityEnvironment, gateway: Callable[..., LlmActivities]
) -> None:
    request = node_request("llm", {"prompt": "hi"}, tenant="no-such-tenant")
    error = await _fail(activity_env, gateway(), request)
    assert error.type == "TenantNotFound" and error.non_retryable


async def test_a_stalled_provider_fails_the_attempt_retryably_within_its_timeout_and_releases(
    gateway: Callable[..., LlmActivities],
    tenant_of: Callable[[], Tenant],
    chat_server: ChatServer,
) -> None:
    """The provider says nothing until long after the node's 3 s attempt: the call gives
    up within the attempt (LiteLLM's timeout is what is left of it, less a second), with a
    retryable error that says it timed out, and the reservation goes back to the budget."""
    tenant = tenant_of()
    tag = uuid.uuid4().hex
    tenant.route("slow", [{"model": f"openai/stall:{tag}", **_price(0.001, 0.001)}])
    budget = tenant.budget("daily", 10.0)
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, start_to_close_timeout=timedelta(seconds=3))
    started = time.monotonic()
    try:
        error = await _fail(env, gateway(), tenant.request({"route": "slow", "prompt": "x"}))
    finally:
        chat_server.release(tag)
    elapsed = time.monotonic() - started
    print(f"stalled provider: failed after {elapsed:.2f}s: {error.message}")
    assert chat_server.stalled[tag] == 1, "the call reached the provider and was held"
    assert 1.5 <= elapsed < 3.0, "gave up on LiteLLM's timeout, before the attempt's"
    assert error.type == "LlmProviderError" and not error.non_retryable
    assert "timed out" in error.message
    [entry] = tenant.entries()
    assert entry.status == "released" and entry.reserved_nanos > 0 and entry.cost_nanos is None
    window = tenant.window(budget)
    assert (window.reserved_nanos, window.spent_nanos) == (0, 0)


async def test_each_item_of_a_foreach_is_charged_for_its_own_call(
    activity_env: ActivityEnvironment,
    gateway: Callable[..., LlmActivities],
    tenant_of: Callable[[], Tenant],
    chat_server: ChatServer,
) -> None:
    """A foreach runs its llm body once per item under the foreach node's id, in one run
    and at the same attempt number: each item's call is its own ledger entry."""
    tenant = tenant_of()
    tenant.route("priced", [{"model": "openai/echo", **_price(0.001, 0.002)}])
    budget = tenant.budget("daily", 10.0)
    llm = gateway()
    execution_id = f"{tenant.slug}:graph-1:{uuid.uuid4().hex}"
    before = len(chat_server.requests)

    async def item(index: int) -> Any:
        scope = {"inputs": {}, "nodes": {}, "vars": {}, "item": f"item {index}", "index": index}
        config = {"route": "priced", "prompt": "{{ item }}", "max_tokens": 5}
        request = tenant.request(config, scope=scope, node_id="each", execution_id=execution_id)
        return await activity_env.run(llm.complete, request)

    results = await asyncio.gather(*(item(index) for index in range(3)))
    assert sorted(result.output["text"] for result in results) == ["item 0", "item 1", "item 2"]
    assert len(chat_server.requests) == before + 3
    entries = sorted(tenant.entries(), key=lambda entry: entry.node_id)
    assert [(e.node_id, e.status, e.cost_nanos) for e in entries] == [
        (f"each[{index}]", "settled", to_nanos(0.013)) for index in range(3)
    ]
    window = tenant.window(budget)
    assert (window.spent_nanos, window.reserved_nanos) == (3 * to_nanos(0.013), 0)


async def test_a_streamed_answer_equals_the_whole_one_and_is_charged_alike(
    gateway: Callable[..., LlmActivities],
    tenant_of: Callable[[], Tenant],
    chat_server: ChatServer,
) -> None:
    """`stream: true` asks the provider for server-sent chunks (the test server sends the
    answer four characters at a time, usage in its last chunk): the node's output is what the
    same call answers unstreamed, the ledger settles the same cost, and every chunk was a
    heartbeat."""
    tenant = tenant_of()
    tenant.route("fast", [{"model": "openai/echo", **_price(0.001, 0.002)}])
    llm = gateway()
    prompt = "Stream me a reply of a few pieces, please."
    beats: list[Any] = []
    env = ActivityEnvironment()
    env.on_heartbeat = lambda *details: beats.append(details)
    whole = await env.run(llm.complete, tenant.request({"route": "fast", "prompt": prompt}))
    assert beats == []
    streamed = await env.run(
        llm.complete, tenant.request({"route": "fast", "prompt": prompt, "stream": True})
    )
    assert chat_server.requests[-1]["stream"] is True
    assert chat_server.requests[-1]["stream_options"] == {"include_usage": True}
    assert streamed.output == whole.output
    assert streamed.output["text"] == prompt and streamed.output["cost"] == pytest.approx(0.013)
    assert len(beats) >= len(prompt) // 4, "a heartbeat per chunk"
    entries = tenant.entries()
    assert [(e.status, e.cost_nanos, e.deployment) for e in entries] == 2 * [
        ("settled", to_nanos(0.013), "fast#0")
    ]


async def test_a_stream_that_fails_releases_and_falls_back_like_a_whole_call(
    activity_env: ActivityEnvironment,
    gateway: Callable[..., LlmActivities],
    tenant_of: Callable[[], Tenant],
) -> None:
    tenant = tenant_of()
    tenant.route("spare", [{"model": "openai/say:spare", **_price(0.001, 0.001)}])
    tenant.route("fast", [{"model": "openai/broken", **_price(0.001, 0.001)}], fallbacks=["spare"])
    tenant.route("limited", [{"model": "openai/limited", **_price(0.001, 0.001)}])
    llm = gateway()
    answer = await activity_env.run(
        llm.complete, tenant.request({"route": "fast", "prompt": "x", "stream": True})
    )
    assert answer.output["text"] == "spare" and answer.output["deployment"] == "spare#0"
    error = await _fail(
        activity_env, llm, tenant.request({"route": "limited", "prompt": "x", "stream": True})
    )
    assert error.type == "LlmProviderError" and not error.non_retryable and "429" in error.message
    assert sorted(e.status for e in tenant.entries()) == ["released", "settled"]


async def test_a_stream_without_usage_is_charged_for_the_tokens_counted(
    activity_env: ActivityEnvironment,
    gateway: Callable[..., LlmActivities],
    tenant_of: Callable[[], Tenant],
) -> None:
    tenant = tenant_of()
    tenant.route("quiet", [{"model": "openai/nousage", **_price(0.001, 0.002)}])
    prompt = "count these tokens, since the provider will not"
    result = await activity_env.run(
        gateway().complete, tenant.request({"route": "quiet", "prompt": prompt, "stream": True})
    )
    usage = result.output["usage"]
    assert result.output["text"] == prompt
    assert usage["prompt_tokens"] > usage["completion_tokens"] > 5, usage
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    cost = usage["prompt_tokens"] * 0.001 + usage["completion_tokens"] * 0.002
    assert result.output["cost"] == pytest.approx(cost)
    [entry] = tenant.entries()
    assert (entry.status, entry.prompt_tokens, entry.cost_nanos) == (
        "settled", usage["prompt_tokens"], to_nanos(cost)
    )  # fmt: skip
