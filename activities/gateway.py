"""Tenant routes as LiteLLM Routers, cached per tenant and route versions, and what each
deployment costs.

A stored route becomes one Router: its deployments under the route's name (the Router
balances them by its strategy), and each fallback route's deployments under that route's
name, so LiteLLM's `fallbacks`, `context_window_fallbacks` and
`content_policy_fallbacks` can name them. Every deployment carries its id
(`<route>#<index>`) in `model_info`, which the Router reports back as the deployment that
answered. A Router is rebuilt when a route or a fallback changes version, or its key
secret changes value.
"""

from __future__ import annotations

import copy
import hashlib
import os
import warnings
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

# See activities/llm.py: the price map LiteLLM ships, never a download at import.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm  # noqa: E402

from auterity.gateway.routes import MOCK_PROVIDER, Deployment, to_nanos  # noqa: E402
from auterity.gateway.store import RouteSet  # noqa: E402

DEFAULT_MAX_OUTPUT_TOKENS = 4096
"""Reserved for a model whose largest reply is unknown, when the node sets no max_tokens."""
MESSAGE_OVERHEAD_TOKENS = 8
ROUTERS_CACHED = 256
PROVIDER_HOSTS = {
    "openai": "api.openai.com",
    "anthropic": "api.anthropic.com",
    "gemini": "generativelanguage.googleapis.com",
    "cohere": "api.cohere.ai",
}
"""Where providers that LiteLLM does not give a default base for are served from."""


@dataclass(frozen=True)
class Price:
    """USD per prompt and per completion token."""

    input: float
    output: float

    def nanos(self, prompt_tokens: int, completion_tokens: int) -> int:
        return to_nanos(prompt_tokens * self.input + completion_tokens * self.output)


SHIPPED_MODELS: dict[str, dict[str, Any]] = copy.deepcopy(litellm.model_cost)
"""LiteLLM's price map as shipped. Its live map grows at run time (a Router registers the
models it is given, priced 0), so prices are read from this copy: unknown stays unknown."""


def _shipped(model: str) -> dict[str, Any] | None:
    if model.startswith(f"{MOCK_PROVIDER}/"):
        return None
    if model in SHIPPED_MODELS:
        return SHIPPED_MODELS[model]
    provider, _, name = model.partition("/")
    info = SHIPPED_MODELS.get(name)
    if info is not None and info.get("litellm_provider") == provider:
        return info
    return None


def model_price(model: str) -> Price | None:
    """The price in LiteLLM's shipped model map; None for a model it does not price."""
    info = _shipped(model) or {}
    prompt, completion = info.get("input_cost_per_token"), info.get("output_cost_per_token")
    if prompt is None or completion is None:
        return None
    return Price(float(prompt), float(completion))


def model_max_output(model: str) -> int | None:
    value = (_shipped(model) or {}).get("max_output_tokens")
    return int(value) if value else None


def model_host(model: str, api_base: str | None) -> str | None:
    """The host a call to `model` goes to; None when unknown."""
    if api_base:
        return urlsplit(api_base).hostname
    try:
        _, provider, _, base = litellm.get_llm_provider(model)
    except Exception:  # noqa: BLE001 - a model LiteLLM cannot place has no known host
        return None
    if base:
        return urlsplit(base).hostname
    return PROVIDER_HOSTS.get(provider)


@dataclass(frozen=True)
class DeploymentInfo:
    """What the activity knows of one deployment a call may reach."""

    id: str
    route: str
    model: str
    api_base: str | None
    price: Price | None
    max_output_tokens: int
    key_secret: str | None = None

    @property
    def mock(self) -> bool:
        return self.model.startswith(f"{MOCK_PROVIDER}/")

    def host(self) -> str | None:
        return model_host(self.model, self.api_base)

    def worst_case_nanos(self, prompt_tokens: int, max_tokens: int | None) -> int:
        if self.price is None:
            return 0
        return self.price.nanos(prompt_tokens, max_tokens or self.max_output_tokens)


def deployment_info(
    id: str, route: str, model: str, api_base: str | None, deployment: Deployment | None = None
) -> DeploymentInfo:
    price = model_price(model)
    max_output = model_max_output(model)
    if deployment is not None:
        if deployment.priced:
            assert deployment.input_cost_per_token is not None
            assert deployment.output_cost_per_token is not None
            price = Price(deployment.input_cost_per_token, deployment.output_cost_per_token)
        max_output = deployment.max_output_tokens or max_output
    return DeploymentInfo(
        id=id,
        route=route,
        model=model,
        api_base=api_base,
        price=price,
        max_output_tokens=max_output or DEFAULT_MAX_OUTPUT_TOKENS,
        key_secret=deployment.api_key_secret if deployment is not None else None,
    )


def litellm_params(model: str, api_base: str | None, api_key: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {"model": model}
    if api_base:
        params["api_base"] = api_base
    if api_key is not None:
        params["api_key"] = api_key
    elif api_base and model.startswith("openai/") and not os.environ.get("OPENAI_API_KEY"):
        params["api_key"] = "no-key"  # servers such as Ollama or vLLM expect none
    return params


def new_router(**kwargs: Any) -> litellm.Router:
    with warnings.catch_warnings():
        # The Router's first construction imports typed dicts pydantic warns about once.
        warnings.filterwarnings("ignore", r".*`ReadOnly` qualifier", UserWarning)
        return litellm.Router(**kwargs)


@dataclass(frozen=True)
class GatewayRoute:
    """A Router for one route and the deployments it may answer from."""

    route: str
    router: litellm.Router
    deployments: Mapping[str, DeploymentInfo]


def deployment_id(route: str, index: int) -> str:
    return f"{route}#{index}"


def build_route(route_set: RouteSet, keys: Mapping[str, str]) -> GatewayRoute:
    """The Router of `route_set`; `keys` maps secret names to the provider keys they hold."""
    model_list: list[dict[str, Any]] = []
    deployments: dict[str, DeploymentInfo] = {}
    for stored in route_set.routes:
        for index, deployment in enumerate(stored.config.deployments):
            id = deployment_id(stored.name, index)
            key = keys.get(deployment.api_key_secret) if deployment.api_key_secret else None
            params = litellm_params(deployment.model, deployment.api_base, key)
            params["weight"] = deployment.weight
            if deployment.rpm is not None:
                params["rpm"] = deployment.rpm
            if deployment.tpm is not None:
                params["tpm"] = deployment.tpm
            model_list.append(
                {"model_name": stored.name, "litellm_params": params, "model_info": {"id": id}}
            )
            deployments[id] = deployment_info(
                id, stored.name, deployment.model, deployment.api_base, deployment
            )
    config = route_set.primary.config
    name = route_set.primary.name
    known = {stored.name for stored in route_set.fallbacks}

    def _fallbacks(names: Sequence[str]) -> list[dict[str, list[str]]]:
        present = [n for n in names if n in known]
        return [{name: present}] if present else []

    cooling = config.cooldown_seconds is not None or config.allowed_fails is not None
    options: dict[str, Any] = {}
    if config.timeout_seconds is not None:
        options["timeout"] = config.timeout_seconds
    if config.cooldown_seconds is not None:
        options["cooldown_time"] = config.cooldown_seconds
    if config.allowed_fails is not None:
        options["allowed_fails"] = config.allowed_fails
    router = new_router(
        model_list=model_list,
        routing_strategy=str(config.strategy),
        fallbacks=_fallbacks(config.fallbacks),
        context_window_fallbacks=_fallbacks(config.context_window_fallbacks),
        content_policy_fallbacks=_fallbacks(config.content_policy_fallbacks),
        num_retries=0,  # Temporal's retry policy owns retries
        disable_cooldowns=not cooling,
        **options,
    )
    return GatewayRoute(name, router, deployments)


class RouterCache:
    """Routers by (tenant, each route's name and version, the keys' digest); least recently
    used ones are dropped past `size`."""

    def __init__(self, size: int = ROUTERS_CACHED) -> None:
        self.size = size
        self._routes: OrderedDict[tuple[Any, ...], GatewayRoute] = OrderedDict()
        self.builds = 0

    def get(self, route_set: RouteSet, keys: Mapping[str, str]) -> GatewayRoute:
        digest = hashlib.sha256(repr(sorted(keys.items())).encode()).hexdigest()
        cache_key = (route_set.tenant_id, route_set.signature(), digest)
        found = self._routes.get(cache_key)
        if found is not None:
            self._routes.move_to_end(cache_key)
            return found
        built = build_route(route_set, keys)
        self.builds += 1
        self._routes[cache_key] = built
        while len(self._routes) > self.size:
            self._routes.popitem(last=False)
        return built


def prompt_token_bound(messages: Sequence[Mapping[str, str]]) -> int:
    """An upper bound of the prompt's tokens without a tokenizer: a token is at least one
    byte in the tokenizers providers use, plus a little per message."""
    return sum(
        len(message.get("content", "").encode()) + MESSAGE_OVERHEAD_TOKENS for message in messages
    )
