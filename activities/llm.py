"""The `llm` node: a chat completion through a LiteLLM Router built from the model routes.

Routes map a name to model entries, the first the primary and the rest its
fallbacks, tried in order by the Router within one attempt (Temporal retries the
attempt). An entry is a LiteLLM model name, optionally followed by
`@<api_base>` to reach an OpenAI-compatible server:

    {"default": ["openai/gpt-4o-mini", "anthropic/claude-3-5-haiku-latest"],
     "local": ["openai/llama3.1@http://127.0.0.1:11434/v1"]}

Keys come from the providers' usual environment variables (`OPENAI_API_KEY`, ...);
an `openai/...@<api_base>` entry without `OPENAI_API_KEY` sends a placeholder key,
as servers such as Ollama or vLLM expect none. `mock/echo` answers with the last
user message and `mock/<text>` with `<text>`, so the platform runs with no keys.
A node's `model` must be one of the models the routes name (the operator's
allowlist); it runs alone, without fallbacks.

A node's `prompt_ref` / `model_ref` name registry versions pinned when the run started
(`prompt_version` / `model_version`); the activity reads those specs. With `stream: true`
the reply is read as chunks, each a heartbeat, and assembled here (see `_ask`).

An entry's `api_base` is checked against the egress policy (resolved, every
address) before each call. A node's `api_key` (a secret) replaces the
provider's key; it must be bound to the host of every model the call may reach,
fallbacks included.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast

import jsonschema

# LiteLLM downloads its model price map at import unless told to use the copy it ships:
# set here, in the one module that imports it, so no process can forget (or block on) it.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpcore  # noqa: E402
import litellm  # noqa: E402
from litellm import CustomLLM  # noqa: E402
from litellm.types.utils import GenericStreamingChunk, ModelResponse  # noqa: E402
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.blobs import DEFAULT_THRESHOLD_BYTES, BlobStore, offload
from activities.egress import TenantEgress
from activities.gateway import (
    DeploymentInfo,
    RouterCache,
    deployment_info,
    litellm_params,
    model_host,
    new_router,
    prompt_token_bound,
)
from activities.rendering import (
    NodeRendering,
    attempt_budget_seconds,
    current_attempt,
    prepare,
)
from activities.secrets import SecretSource
from auterity.egress import EgressPolicy, EgressRefused, check_url
from auterity.gateway.cache import ResponseCache, cache_key
from auterity.gateway.ledger import (
    BudgetExhausted,
    LedgerKey,
    Reservation,
    Settlement,
    UnknownTenant,
)
from auterity.gateway.metrics import COST_METRIC, TOKENS_METRIC
from auterity.gateway.registry import ModelSpec, PromptSpec
from auterity.gateway.routes import to_usd
from auterity.gateway.store import RouteSet
from auterity.graph.budget import DEADLINE_SECONDS
from auterity.graph.contracts import LLM_ACTIVITY, NodeActivityInput, NodeActivityOutput
from auterity.graph.errors import ErrorType
from auterity.graph.expressions import ExpressionError, render_value
from auterity.graph.kinds import LlmConfig
from auterity.graph.references import FIELDS

DEFAULT_ROUTE = "default"
MOCK_PROVIDER = "mock"
REJECTED_STATUSES = frozenset({400, 401, 403, 404, 413, 422})
"""Provider answers that another attempt cannot change."""
RESERVATION_GRACE_SECONDS = 60.0
"""A reservation outlives its attempt's timeout by this much before it expires."""
UNBOUNDED_ATTEMPT_SECONDS = 15 * 60.0
UNCACHED_OPTIONS = frozenset({"timeout", "api_key"})
"""Call options that do not change the answer, left out of the response cache's key."""
USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")

litellm.suppress_debug_info = True


@dataclass(frozen=True)
class ModelEntry:
    """One entry of a route: a LiteLLM model name and, optionally, the server to ask."""

    model: str
    api_base: str | None = None

    @classmethod
    def parse(cls, entry: str) -> ModelEntry:
        model, separator, rest = entry.partition("@http")
        if not separator:
            return cls(model=entry)
        return cls(model=model, api_base=f"http{rest}")

    def host(self) -> str | None:
        """The host a call to this model goes to; None when unknown."""
        return model_host(self.model, self.api_base)

    def litellm_params(self) -> dict[str, Any]:
        return litellm_params(self.model, self.api_base, None)


class MockProvider(CustomLLM):
    """`mock/echo` repeats the last user message; `mock/<text>` answers `<text>`."""

    async def acompletion(  # type: ignore[override]
        self, model: str, messages: list[dict[str, Any]], *args: Any, **kwargs: Any
    ) -> ModelResponse:
        return self.completion(model, messages)

    def completion(  # type: ignore[override]
        self, model: str, messages: list[dict[str, Any]], *args: Any, **kwargs: Any
    ) -> ModelResponse:
        return litellm.mock_completion(
            model=f"{MOCK_PROVIDER}/{model}", messages=messages,
            mock_response=self.reply(model, messages),
        )  # fmt: skip

    async def astreaming(  # type: ignore[override]
        self, model: str, messages: list[dict[str, Any]], *args: Any, **kwargs: Any
    ) -> AsyncIterator[GenericStreamingChunk]:
        """The same answer as one chunk (a mock has nothing to stream)."""
        answer = self.completion(model, messages)
        usage = _usage(answer)
        yield GenericStreamingChunk(
            text=answer.choices[0].message.content or "", tool_use=None, is_finished=True,
            finish_reason="stop", index=0,
            usage={"prompt_tokens": usage["prompt_tokens"],
                   "completion_tokens": usage["completion_tokens"],
                   "total_tokens": usage["total_tokens"]},
        )  # fmt: skip

    @staticmethod
    def reply(model: str, messages: list[dict[str, Any]]) -> str:
        if model == "echo":
            users = [m.get("content") for m in messages if m.get("role") == "user"]
            return str(users[-1] if users else "")
        return model


def _register_mock_provider() -> None:
    if not any(p.get("provider") == MOCK_PROVIDER for p in litellm.custom_provider_map):
        litellm.custom_provider_map.append(
            {"provider": MOCK_PROVIDER, "custom_handler": MockProvider()}
        )


class PromptSource(Protocol):
    """A tenant's registry prompt and model versions (tenant = slug)."""

    async def prompt(self, tenant: str, name: str, version: int) -> PromptSpec | None: ...

    async def model(self, tenant: str, name: str, version: int) -> ModelSpec | None: ...


class RouteSource(Protocol):
    """A tenant's stored routes (tenant = slug); None when it has no route of that name."""

    async def route_set(self, tenant: str, name: str) -> RouteSet | None: ...


class SpendLedger(Protocol):
    """Reserves a call's worst case against the tenant's budgets, settles or releases it."""

    async def reserve(
        self,
        key: LedgerKey,
        *,
        graph_id: str | None,
        route: str | None,
        nanos: int,
        ttl_seconds: float,
    ) -> Reservation: ...

    async def settle(self, key: LedgerKey, settlement: Settlement) -> bool: ...

    async def release(self, key: LedgerKey) -> bool: ...

    async def record(
        self, key: LedgerKey, settlement: Settlement, *, graph_id: str | None, route: str | None
    ) -> bool: ...


@dataclass(frozen=True)
class Target:
    """Where one call goes: a Router, the model group to ask, the deployments that may
    answer (fallbacks included) and the route it is charged to."""

    router: litellm.Router
    model_name: str
    deployments: Mapping[str, DeploymentInfo]
    route: str | None
    keys: Mapping[str, str]
    """Provider keys of the tenant route's deployments (secret name -> value)."""
    cache_seconds: int | None = None
    cache_scope: tuple[str, str, int] | None = None
    """(tenant id, route, route version) of a tenant route, what cached answers are keyed by."""


class LlmActivities:
    """Runs `llm` nodes through a tenant's stored route (`routes`), or else through the
    platform's `model_routes` (route name -> model entries, the development default);
    with a `ledger`, every call is reserved against the tenant's budgets and settled."""

    def __init__(
        self,
        model_routes: Mapping[str, Sequence[str]],
        blobs: BlobStore,
        threshold_bytes: int = DEFAULT_THRESHOLD_BYTES,
        secrets: SecretSource | None = None,
        egress: EgressPolicy | None = None,
        template_seconds: float = DEADLINE_SECONDS,
        tenant_egress: TenantEgress | None = None,
        routes: RouteSource | None = None,
        ledger: SpendLedger | None = None,
        metrics: bool = True,
        cache: ResponseCache | None = None,
        registry: PromptSource | None = None,
    ) -> None:
        _register_mock_provider()
        self.tenant_egress = tenant_egress
        self.blobs = blobs
        self.threshold_bytes = threshold_bytes
        self.secrets = secrets
        self.egress = egress or EgressPolicy()
        self.template_seconds = template_seconds
        self.tenant_routes = routes
        self.ledger = ledger
        self.metrics = metrics
        self.cache = cache
        self.registry = registry
        self.routers = RouterCache()
        self.routes = {
            name: [ModelEntry.parse(e) for e in entries] for name, entries in model_routes.items()
        }
        self.models: dict[str, ModelEntry] = {}
        self.deployments: dict[str, DeploymentInfo] = {}
        model_list: list[dict[str, Any]] = []
        fallbacks: list[dict[str, list[str]]] = []
        for name, entries in self.routes.items():
            names = [_route_deployment(name, index) for index in range(len(entries))]
            for deployment, entry in zip(names, entries, strict=True):
                model_list.append(
                    {
                        "model_name": deployment,
                        "litellm_params": entry.litellm_params(),
                        "model_info": {"id": deployment},
                    }
                )
                self.deployments[deployment] = deployment_info(
                    deployment, name, entry.model, entry.api_base
                )
            if len(names) > 1:
                fallbacks.append({names[0]: names[1:]})
            for entry in entries:
                self.models.setdefault(entry.model, entry)
        for model, entry in self.models.items():
            deployment = _model_deployment(model)
            model_list.append(
                {
                    "model_name": deployment,
                    "litellm_params": entry.litellm_params(),
                    "model_info": {"id": deployment},
                }
            )
            self.deployments[deployment] = deployment_info(deployment, "", model, entry.api_base)
        self.router = new_router(
            model_list=model_list,
            fallbacks=fallbacks,
            num_retries=0,  # Temporal's retry policy owns retries
            disable_cooldowns=True,
        )

    @activity.defn(name=LLM_ACTIVITY)
    async def complete(self, request: NodeActivityInput) -> NodeActivityOutput:
        rendering = await prepare(request, self.blobs, self.secrets, self.template_seconds)
        config = rendering.parse(LlmConfig)
        prompt = await self._registry_spec(config, "prompt", rendering)
        if isinstance(prompt, PromptSpec):
            config, messages = _with_prompt(config, prompt, rendering)
        else:
            messages = _messages(config, rendering)
        registry_model = await self._registry_spec(config, "model", rendering)
        if isinstance(registry_model, ModelSpec):
            config = _with_model(config, registry_model)
        target = await self._target(config, rendering)
        options: dict[str, Any] = {}
        if config.api_key is not None:
            options["api_key"] = rendering.render("api_key", config.api_key)
            for deployment in target.deployments.values():
                if not deployment.mock:
                    rendering.check_destination(deployment.host())
        policy = (
            await self.tenant_egress.policy(request.tenant) if self.tenant_egress else self.egress
        )
        await self._check_egress(policy, target.deployments.values(), rendering)
        if config.temperature is not None:
            options["temperature"] = config.temperature
        deployments = target.deployments.values()
        if config.max_tokens is None and any(d.price is not None for d in deployments):
            # The reservation holds the worst case of a priced call; the provider is held to
            # the same bound, so a long answer cannot cost more than was reserved.
            bound = min(d.max_output_tokens for d in deployments)
            config = config.model_copy(update={"max_tokens": bound})
        if config.max_tokens is not None:
            options["max_tokens"] = config.max_tokens
        if config.response_schema is not None:
            _check_schema(config.response_schema, rendering)
            options["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "node_output", "schema": config.response_schema},
            }
            options["drop_params"] = True
        budget = attempt_budget_seconds()
        if budget is not None:
            options["timeout"] = budget
        key = _ledger_key(request)
        cached_at = self._cache_key(target, messages, options)
        if cached_at is not None:
            hit = await self._cache_get(cached_at)
            if hit is not None:
                return await self._cached_answer(key, request, target, hit, config, rendering)
        reservation = await self._reserve(key, request, target, messages, config, rendering)
        try:
            reply = await _ask(target, messages, options, stream=config.stream)
        except BaseException as exc:
            if self.ledger is not None:
                await self.ledger.release(key)
            if not isinstance(exc, Exception):
                raise
            raise _provider_failure(exc, rendering) from None
        answered = target.deployments.get(reply.model_id)
        text = rendering.redact(reply.text)
        usage = reply.usage
        cost_nanos = (
            answered.price.nanos(usage["prompt_tokens"], usage["completion_tokens"])
            if answered is not None and answered.price is not None
            else None
        )
        model = answered.model if answered is not None else reply.model
        if self.ledger is not None:
            await self.ledger.settle(
                key,
                Settlement(
                    cost_nanos=cost_nanos,
                    prompt_tokens=usage["prompt_tokens"],
                    completion_tokens=usage["completion_tokens"],
                    model=model,
                    deployment=answered.id if answered is not None else None,
                ),
            )
        cost = to_usd(cost_nanos) if cost_nanos is not None else None
        self._count(request.tenant, target.route, model, usage, cost_nanos)
        output: dict[str, Any] = {
            "text": text,
            "model": model,
            "deployment": answered.id if answered is not None else None,
            "route": target.route,
            "usage": usage,
            "cost": cost,
            "cost_known": cost is not None,
            "cached": False,
        }
        if answered is not None and answered.mock:
            output["mock"] = True
        if reservation is not None and reservation.warnings:
            output["budget_warnings"] = reservation.warnings
        if config.response_schema is not None:
            output["object"] = _structured(text, config.response_schema, rendering)
        if cached_at is not None and target.cache_seconds is not None:
            answer = {key: output[key] for key in ("text", "model", "deployment", "usage")}
            await self._cache_put(cached_at, answer, target.cache_seconds)
        return NodeActivityOutput(
            output=await offload(self.blobs, request.tenant, output, self.threshold_bytes),
            usage=usage,
            cost=cost,
            attempt=current_attempt(),
        )

    async def _registry_spec(
        self, config: LlmConfig, kind: Literal["prompt", "model"], rendering: NodeRendering
    ) -> PromptSpec | ModelSpec | None:
        """The registry version of `prompt_ref` or `model_ref` the run pinned when it
        started, if the node names one."""
        field, version_field = FIELDS[kind]
        reference, version = getattr(config, field), getattr(config, version_field)
        if reference is None:
            return None
        name = reference.partition("@")[0]
        if version is None:
            raise rendering.failure(
                f"{field}: {reference!r} was not pinned to a version when the run started",
                type=ErrorType.NODE_CONFIG_INVALID,
                non_retryable=True,
            )
        found: PromptSpec | ModelSpec | None = None
        if self.registry is not None:
            read = self.registry.prompt if kind == "prompt" else self.registry.model
            found = await read(rendering.request.tenant, name, version)
        if found is None:
            raise rendering.failure(
                f"{field}: {kind} {name!r} has no version {version}",
                type=ErrorType.NODE_CONFIG_INVALID,
                non_retryable=True,
            )
        return found

    def _cache_key(
        self, target: Target, messages: list[dict[str, str]], options: Mapping[str, Any]
    ) -> str | None:
        if self.cache is None or target.cache_seconds is None or target.cache_scope is None:
            return None
        asked = {name: value for name, value in options.items() if name not in UNCACHED_OPTIONS}
        return cache_key(*target.cache_scope, {"messages": messages, **asked})

    async def _cache_get(self, key: str) -> dict[str, Any] | None:
        assert self.cache is not None
        try:
            return await self.cache.get(key)
        except Exception as exc:  # noqa: BLE001 - a cache that is down is a miss, not a failure
            activity.logger.warning("response cache unavailable: %s", type(exc).__name__)
            return None

    async def _cache_put(self, key: str, answer: Mapping[str, Any], seconds: int) -> None:
        assert self.cache is not None
        try:
            await self.cache.put(key, answer, seconds)
        except Exception as exc:  # noqa: BLE001 - the answer is good without the cache
            activity.logger.warning("response cache unavailable: %s", type(exc).__name__)

    async def _cached_answer(
        self,
        key: LedgerKey,
        request: NodeActivityInput,
        target: Target,
        hit: Mapping[str, Any],
        config: LlmConfig,
        rendering: NodeRendering,
    ) -> NodeActivityOutput:
        """An answer from the response cache: recorded in the ledger at zero cost."""
        usage = {name: int(hit["usage"].get(name, 0)) for name in USAGE_KEYS}
        if self.ledger is not None:
            settlement = Settlement(
                cost_nanos=0, prompt_tokens=usage["prompt_tokens"],
                completion_tokens=usage["completion_tokens"], model=hit["model"],
                deployment=hit["deployment"], cached=True,
            )  # fmt: skip
            await self.ledger.record(key, settlement, graph_id=request.graph_id, route=target.route)
        output: dict[str, Any] = {
            "text": hit["text"],
            "model": hit["model"],
            "deployment": hit["deployment"],
            "route": target.route,
            "usage": usage,
            "cost": 0.0,
            "cost_known": True,
            "cached": True,
        }
        if config.response_schema is not None:
            output["object"] = _structured(hit["text"], config.response_schema, rendering)
        return NodeActivityOutput(
            output=await offload(self.blobs, request.tenant, output, self.threshold_bytes),
            usage=usage,
            cost=0.0,
            attempt=current_attempt(),
        )

    async def _target(self, config: LlmConfig, rendering: NodeRendering) -> Target:
        """The tenant's stored route by that name, else the platform's routes."""
        if config.model is None and config.route is not None and self.tenant_routes is not None:
            route_set = await self.tenant_routes.route_set(rendering.request.tenant, config.route)
            if route_set is not None:
                keys = await self._route_keys(route_set, rendering)
                gateway = self.routers.get(route_set, keys)
                primary = route_set.primary
                return Target(
                    gateway.router, gateway.route, gateway.deployments, gateway.route, keys,
                    cache_seconds=primary.config.cache_seconds,
                    cache_scope=(route_set.tenant_id, primary.name, primary.version),
                )  # fmt: skip
        if config.model is not None:
            if config.model not in self.models:
                raise rendering.failure(
                    f"model: {config.model!r} is not in any route "
                    f"(known: {', '.join(sorted(self.models)) or 'none'})",
                    type=ErrorType.UNKNOWN_MODEL,
                    non_retryable=True,
                )
            name = _model_deployment(config.model)
            return Target(self.router, name, {name: self.deployments[name]}, None, {})
        route = config.route or DEFAULT_ROUTE
        if not self.routes.get(route):
            raise rendering.failure(
                f"route: {route!r} is not configured "
                f"(known: {', '.join(sorted(self.routes)) or 'none'})",
                type=ErrorType.UNKNOWN_ROUTE,
                non_retryable=True,
            )
        names = [_route_deployment(route, index) for index in range(len(self.routes[route]))]
        return Target(self.router, names[0], {n: self.deployments[n] for n in names}, route, {})

    async def _route_keys(self, route_set: RouteSet, rendering: NodeRendering) -> dict[str, str]:
        """The provider keys the route's deployments name, each checked against the host it
        would be sent to."""
        wanted = {
            deployment.api_key_secret: deployment
            for stored in route_set.routes
            for deployment in stored.config.deployments
            if deployment.api_key_secret is not None
        }
        if not wanted:
            return {}
        found = (
            await self.secrets.get(rendering.request.tenant, set(wanted)) if self.secrets else {}
        )
        missing = sorted(set(wanted) - found.keys())
        if missing:
            raise rendering.failure(
                f"route: unknown secret(s) {', '.join(missing)} (api_key_secret)",
                type=ErrorType.SECRET_NOT_FOUND,
                non_retryable=True,
            )
        rendering.guard(*(credential.value for credential in found.values()))
        for stored in route_set.routes:
            for deployment in stored.config.deployments:
                if deployment.api_key_secret is None:
                    continue
                credential = found[deployment.api_key_secret]
                host = model_host(deployment.model, deployment.api_base)
                if host is None or not credential.allows(host):
                    raise rendering.failure(
                        f"secret {deployment.api_key_secret!r} may not be sent to "
                        f"{host or 'an unknown host'} (route {stored.name!r}): it is bound to "
                        f"{credential.bound_to()}",
                        type=ErrorType.SECRET_REFUSED,
                        non_retryable=True,
                    )
        return {name: credential.value for name, credential in found.items()}

    async def _reserve(
        self,
        key: LedgerKey,
        request: NodeActivityInput,
        target: Target,
        messages: list[dict[str, str]],
        config: LlmConfig,
        rendering: NodeRendering,
    ) -> Reservation | None:
        """Hold the worst case of the call against the budgets (any deployment may answer)."""
        if self.ledger is None:
            return None
        prompt_tokens = prompt_token_bound(messages)
        worst = max(
            (
                d.worst_case_nanos(prompt_tokens, config.max_tokens)
                for d in target.deployments.values()
            ),
            default=0,
        )
        seconds = attempt_budget_seconds() or UNBOUNDED_ATTEMPT_SECONDS
        try:
            return await self.ledger.reserve(
                key,
                graph_id=request.graph_id,
                route=target.route,
                nanos=worst,
                ttl_seconds=seconds + RESERVATION_GRACE_SECONDS,
            )
        except BudgetExhausted as exc:
            raise rendering.failure(
                str(exc), type=ErrorType.BUDGET_EXHAUSTED, non_retryable=True
            ) from None
        except UnknownTenant as exc:
            raise rendering.failure(
                str(exc), type=ErrorType.TENANT_NOT_FOUND, non_retryable=True
            ) from None

    def _count(
        self,
        tenant: str,
        route: str | None,
        model: str,
        usage: Mapping[str, int],
        cost_nanos: int | None,
    ) -> None:
        """Tokens and priced cost by tenant, route and model (monitoring/METRICS.md)."""
        if not self.metrics or not activity.in_activity():
            return
        meter = activity.metric_meter()
        labels = {"tenant": tenant, "route": route or "", "model": model}
        tokens = meter.create_counter(TOKENS_METRIC, "Tokens of model calls", "tokens")
        tokens.add(usage["prompt_tokens"], {**labels, "type": "prompt"})
        tokens.add(usage["completion_tokens"], {**labels, "type": "completion"})
        if cost_nanos is not None:
            meter.create_histogram_float(
                COST_METRIC, "Cost of one priced model call", "USD"
            ).record(to_usd(cost_nanos), labels)

    async def _check_egress(
        self,
        policy: EgressPolicy,
        deployments: Iterable[DeploymentInfo],
        rendering: NodeRendering,
    ) -> None:
        for deployment in deployments:
            if deployment.api_base is None:
                continue
            try:
                await check_url(policy, deployment.api_base)
            except EgressRefused as exc:
                raise rendering.failure(
                    f"model {deployment.model}: {exc}",
                    type=ErrorType.EGRESS_REFUSED,
                    non_retryable=True,
                ) from None
            except httpcore.ConnectError as exc:
                raise rendering.failure(
                    f"model {deployment.model}: {exc}", type=ErrorType.LLM_PROVIDER_ERROR
                ) from None


def _with_prompt(
    config: LlmConfig, spec: PromptSpec, rendering: NodeRendering
) -> tuple[LlmConfig, list[dict[str, str]]]:
    """The node's settings completed by the registry prompt's, and the messages: the
    prompt's system and template rendered over the node's `variables` only (what the
    variables hold is data, never rendered again)."""
    variables = rendering.render("variables", config.variables or {})
    where = f"prompt_ref {config.prompt_ref} (version {config.prompt_version})"

    def _render(template: str) -> str:
        try:
            return _text(render_value(template, variables, rendering.budget))
        except ExpressionError as exc:
            raise rendering.failure(
                f"{where}: {exc}", type=ErrorType.EXPRESSION_ERROR, non_retryable=True
            ) from None

    messages: list[dict[str, str]] = []
    if config.system is not None:
        messages.append(
            {"role": "system", "content": _text(rendering.render("system", config.system))}
        )
    elif spec.system is not None:
        messages.append({"role": "system", "content": _render(spec.system)})
    messages.append({"role": "user", "content": _render(spec.template)})
    settled = config.model_copy(
        update={
            "route": config.route
            or (spec.route if config.model is None and config.model_ref is None else None),
            "temperature": config.temperature if config.temperature is not None
            else spec.temperature,
            "max_tokens": config.max_tokens if config.max_tokens is not None else spec.max_tokens,
            "response_schema": config.response_schema if config.response_schema is not None
            else spec.response_schema,
        }
    )  # fmt: skip
    return settled, messages


@dataclass(frozen=True)
class Reply:
    """A provider's answer, streamed or not: its text, usage and who answered."""

    text: str
    usage: dict[str, int]
    model_id: str
    """The id of the deployment that answered (as the Router reports it)."""
    model: str


async def _ask(
    target: Target, messages: list[dict[str, str]], options: dict[str, Any], *, stream: bool
) -> Reply:
    """One call through the target's Router. Streamed, the text is assembled here and each
    chunk is a heartbeat (a stream that goes silent misses them and the attempt times out);
    the usage is the last chunk's, or counted when the provider sends none."""
    if not stream:
        response: ModelResponse = await target.router.acompletion(
            model=target.model_name, messages=cast(Any, messages), **options
        )
        return Reply(
            text=response.choices[0].message.content or "",
            usage=_usage(response),
            model_id=str(response._hidden_params.get("model_id")),
            model=str(response.model),
        )
    chunks = await target.router.acompletion(
        model=target.model_name, messages=cast(Any, messages), stream=True,
        stream_options={"include_usage": True}, **options,
    )  # fmt: skip
    beating = activity.in_activity() and not activity.info().is_local
    parts: list[str] = []
    usage: dict[str, int] | None = None
    model = ""
    async for chunk in chunks:
        if chunk.choices and chunk.choices[0].delta.content:
            parts.append(chunk.choices[0].delta.content)
        if getattr(chunk, "usage", None) is not None:
            usage = _usage(chunk)
        model = model or str(getattr(chunk, "model", "") or "")
        if beating:
            activity.heartbeat(len(parts))
    text = "".join(parts)
    hidden = getattr(chunks, "_hidden_params", None) or {}
    if usage is None or not usage["total_tokens"]:
        usage = _counted_usage(model, messages, text)
    return Reply(text=text, usage=usage, model_id=str(hidden.get("model_id")), model=model)


def _counted_usage(model: str, messages: list[dict[str, str]], text: str) -> dict[str, int]:
    """Tokens counted with LiteLLM's tokenizer for the model (a stream without usage)."""
    prompt = litellm.token_counter(model=model, messages=cast(Any, messages))
    completion = litellm.token_counter(model=model, text=text, count_response_tokens=True)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _with_model(config: LlmConfig, spec: ModelSpec) -> LlmConfig:
    """The node's settings completed by the registry model's: its route, and its temperature
    and max_tokens where neither the node nor its prompt set them."""
    return config.model_copy(
        update={
            "route": spec.route,
            "temperature": config.temperature if config.temperature is not None
            else spec.temperature,
            "max_tokens": config.max_tokens if config.max_tokens is not None else spec.max_tokens,
        }
    )  # fmt: skip


def _ledger_key(request: NodeActivityInput) -> LedgerKey:
    """This attempt's key. A foreach runs its body once per item under its own node id,
    so an item's call is keyed `<node>[<index>]` (as its activity summary reads)."""
    info = activity.info()
    index = request.scope.get("index")
    node_id = f"{request.node_id}[{index}]" if isinstance(index, int) else request.node_id
    return LedgerKey(
        tenant=request.tenant,
        workflow_id=request.execution_id,
        run_id=info.workflow_run_id or "",
        node_id=node_id,
        attempt=info.attempt,
    )


def _route_deployment(route: str, index: int) -> str:
    return f"route:{route}#{index}"


def _model_deployment(model: str) -> str:
    return f"model:{model}"


def _messages(config: LlmConfig, rendering: NodeRendering) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    if config.system is not None:
        messages.append(
            {"role": "system", "content": _text(rendering.render("system", config.system))}
        )
    if config.prompt is not None:
        messages.append(
            {"role": "user", "content": _text(rendering.render("prompt", config.prompt))}
        )
    for index, message in enumerate(config.messages or ()):
        content = rendering.render(f"messages[{index}].content", message.content)
        messages.append({"role": message.role, "content": _text(content)})
    return messages


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _check_schema(schema: dict[str, Any], rendering: NodeRendering) -> None:
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise rendering.failure(
            f"response_schema: not a valid JSON Schema: {exc.message}",
            type=ErrorType.NODE_CONFIG_INVALID,
            non_retryable=True,
        ) from None


def _structured(text: str, schema: dict[str, Any], rendering: NodeRendering) -> Any:
    """The reply parsed as JSON and valid against `schema`; otherwise a retryable failure."""
    body = text.strip()
    if body.startswith("```"):
        body = body.split("\n", 1)[-1].rsplit("```", 1)[0]
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise rendering.failure(
            f"the reply is not JSON ({exc})",
            type=ErrorType.INVALID_STRUCTURED_OUTPUT,
            details={"text": text[:2000]},
        ) from None
    validator = jsonschema.validators.validator_for(schema)(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "(root)"
        raise rendering.failure(
            f"the reply does not match response_schema at {where}: {error.message}",
            type=ErrorType.INVALID_STRUCTURED_OUTPUT,
            details={"text": text[:2000]},
        )
    return value


def _usage(response: Any) -> dict[str, int]:
    usage = getattr(response, "usage", None)
    return {key: int(getattr(usage, key, 0) or 0) for key in USAGE_KEYS}


def _provider_failure(exc: Exception, rendering: NodeRendering) -> ApplicationError:
    status = getattr(exc, "status_code", None)
    message = str(exc).split("\n", 1)[0]
    if isinstance(status, int) and status in REJECTED_STATUSES:
        return rendering.failure(
            f"the model provider rejected the request ({status}): {message}",
            type=ErrorType.LLM_REQUEST_REJECTED,
            non_retryable=True,
        )
    return rendering.failure(
        f"the model provider failed ({status or type(exc).__name__}): {message}",
        type=ErrorType.LLM_PROVIDER_ERROR,
    )
