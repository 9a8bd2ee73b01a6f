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

An entry's `api_base` is checked against the egress policy (resolved, every
address) before each call. A node's `api_key` (a secret) replaces the
provider's key; it must be bound to the host of every model the call may reach,
fallbacks included.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jsonschema

# LiteLLM downloads its model price map at import unless told to use the copy it ships:
# set here, in the one module that imports it, so no process can forget (or block on) it.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpcore  # noqa: E402
import litellm  # noqa: E402
from litellm import CustomLLM  # noqa: E402
from litellm.types.utils import ModelResponse  # noqa: E402
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.blobs import DEFAULT_THRESHOLD_BYTES, BlobStore, offload
from activities.egress import TenantEgress
from activities.rendering import (
    NodeRendering,
    attempt_budget_seconds,
    current_attempt,
    prepare,
)
from activities.secrets import SecretSource
from auterity.egress import EgressPolicy, EgressRefused, check_url
from auterity.graph.budget import DEADLINE_SECONDS
from auterity.graph.contracts import LLM_ACTIVITY, NodeActivityInput, NodeActivityOutput
from auterity.graph.errors import ErrorType
from auterity.graph.kinds import LlmConfig

DEFAULT_ROUTE = "default"
MOCK_PROVIDER = "mock"
REJECTED_STATUSES = frozenset({400, 401, 403, 404, 413, 422})
"""Provider answers that another attempt cannot change."""
PROVIDER_HOSTS = {
    "openai": "api.openai.com",
    "anthropic": "api.anthropic.com",
    "gemini": "generativelanguage.googleapis.com",
    "cohere": "api.cohere.ai",
}
"""Where providers that LiteLLM does not give a default base for are served from."""

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
        if self.api_base:
            return urlsplit(self.api_base).hostname
        try:
            _, provider, _, api_base = litellm.get_llm_provider(self.model)
        except Exception:  # noqa: BLE001 - a model LiteLLM cannot place has no known host
            return None
        if api_base:
            return urlsplit(api_base).hostname
        return PROVIDER_HOSTS.get(provider)

    def litellm_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"model": self.model}
        if self.api_base:
            params["api_base"] = self.api_base
            if self.model.startswith("openai/") and not os.environ.get("OPENAI_API_KEY"):
                params["api_key"] = "no-key"
        return params


class MockProvider(CustomLLM):
    """`mock/echo` repeats the last user message; `mock/<text>` answers `<text>`."""

    async def acompletion(  # type: ignore[override]
        self, model: str, messages: list[dict[str, Any]], *args: Any, **kwargs: Any
    ) -> ModelResponse:
        return self.completion(model, messages)

    def completion(  # type: ignore[override]
        self, model: str, messages: list[dict[str, Any]], *args: Any, **kwargs: Any
    ) -> ModelResponse:
        if model == "echo":
            users = [m.get("content") for m in messages if m.get("role") == "user"]
            reply = users[-1] if users else ""
        else:
            reply = model
        return litellm.mock_completion(
            model=f"{MOCK_PROVIDER}/{model}", messages=messages, mock_response=str(reply)
        )


def _register_mock_provider() -> None:
    if not any(p.get("provider") == MOCK_PROVIDER for p in litellm.custom_provider_map):
        litellm.custom_provider_map.append(
            {"provider": MOCK_PROVIDER, "custom_handler": MockProvider()}
        )


class LlmActivities:
    """Runs `llm` nodes through a Router over `routes` (route name -> model entries)."""

    def __init__(
        self,
        routes: Mapping[str, Sequence[str]],
        blobs: BlobStore,
        threshold_bytes: int = DEFAULT_THRESHOLD_BYTES,
        secrets: SecretSource | None = None,
        egress: EgressPolicy | None = None,
        template_seconds: float = DEADLINE_SECONDS,
        tenant_egress: TenantEgress | None = None,
    ) -> None:
        _register_mock_provider()
        self.tenant_egress = tenant_egress
        self.blobs = blobs
        self.threshold_bytes = threshold_bytes
        self.secrets = secrets
        self.egress = egress or EgressPolicy()
        self.template_seconds = template_seconds
        self.routes = {
            name: [ModelEntry.parse(e) for e in entries] for name, entries in routes.items()
        }
        self.models: dict[str, ModelEntry] = {}
        model_list: list[dict[str, Any]] = []
        fallbacks: list[dict[str, list[str]]] = []
        for name, entries in self.routes.items():
            names = [_route_deployment(name, index) for index in range(len(entries))]
            model_list += [
                {"model_name": deployment, "litellm_params": entry.litellm_params()}
                for deployment, entry in zip(names, entries, strict=True)
            ]
            if len(names) > 1:
                fallbacks.append({names[0]: names[1:]})
            for entry in entries:
                self.models.setdefault(entry.model, entry)
        model_list += [
            {"model_name": _model_deployment(model), "litellm_params": entry.litellm_params()}
            for model, entry in self.models.items()
        ]
        with warnings.catch_warnings():
            # The Router's first construction imports typed dicts pydantic warns about once.
            warnings.filterwarnings("ignore", r".*`ReadOnly` qualifier", UserWarning)
            self.router = litellm.Router(
                model_list=model_list,
                fallbacks=fallbacks,
                num_retries=0,  # Temporal's retry policy owns retries
                disable_cooldowns=True,
            )

    @activity.defn(name=LLM_ACTIVITY)
    async def complete(self, request: NodeActivityInput) -> NodeActivityOutput:
        rendering = await prepare(request, self.blobs, self.secrets, self.template_seconds)
        config = rendering.parse(LlmConfig)
        deployment = self._deployment(config, rendering)
        entries = self._entries(config)
        messages = _messages(config, rendering)
        options: dict[str, Any] = {}
        if config.api_key is not None:
            options["api_key"] = rendering.render("api_key", config.api_key)
            for entry in entries:
                if not entry.model.startswith(f"{MOCK_PROVIDER}/"):
                    rendering.check_destination(entry.host())
        policy = (
            await self.tenant_egress.policy(request.tenant) if self.tenant_egress else self.egress
        )
        await self._check_egress(policy, entries, rendering)
        if config.temperature is not None:
            options["temperature"] = config.temperature
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
        try:
            response = await self.router.acompletion(model=deployment, messages=messages, **options)
        except Exception as exc:  # noqa: BLE001 - every provider failure becomes a typed one
            raise _provider_failure(exc, rendering) from None
        text = rendering.redact(response.choices[0].message.content or "")
        usage = _usage(response)
        output: dict[str, Any] = {
            "text": text,
            "model": response._hidden_params.get("litellm_model_name") or response.model,
            "usage": usage,
            "cost": _cost(response),
        }
        if config.response_schema is not None:
            output["object"] = _structured(text, config.response_schema, rendering)
        return NodeActivityOutput(
            output=await offload(self.blobs, request.tenant, output, self.threshold_bytes),
            usage=usage,
            cost=output["cost"],
            attempt=current_attempt(),
        )

    def _deployment(self, config: LlmConfig, rendering: NodeRendering) -> str:
        if config.model is not None:
            if config.model not in self.models:
                raise rendering.failure(
                    f"model: {config.model!r} is not in any route "
                    f"(known: {', '.join(sorted(self.models)) or 'none'})",
                    type=ErrorType.UNKNOWN_MODEL,
                    non_retryable=True,
                )
            return _model_deployment(config.model)
        route = config.route or DEFAULT_ROUTE
        if not self.routes.get(route):
            raise rendering.failure(
                f"route: {route!r} is not configured "
                f"(known: {', '.join(sorted(self.routes)) or 'none'})",
                type=ErrorType.UNKNOWN_ROUTE,
                non_retryable=True,
            )
        return _route_deployment(route, 0)

    def _entries(self, config: LlmConfig) -> list[ModelEntry]:
        """The models a call may reach: the node's model, or its route with fallbacks."""
        if config.model is not None:
            return [self.models[config.model]]
        return self.routes[config.route or DEFAULT_ROUTE]

    async def _check_egress(
        self, policy: EgressPolicy, entries: list[ModelEntry], rendering: NodeRendering
    ) -> None:
        for entry in entries:
            if entry.api_base is None:
                continue
            try:
                await check_url(policy, entry.api_base)
            except EgressRefused as exc:
                raise rendering.failure(
                    f"model {entry.model}: {exc}",
                    type=ErrorType.EGRESS_REFUSED,
                    non_retryable=True,
                ) from None
            except httpcore.ConnectError as exc:
                raise rendering.failure(
                    f"model {entry.model}: {exc}", type=ErrorType.LLM_PROVIDER_ERROR
                ) from None


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


def _usage(response: ModelResponse) -> dict[str, int]:
    usage = getattr(response, "usage", None)
    return {
        key: int(getattr(usage, key, 0) or 0)
        for key in ("prompt_tokens", "completion_tokens", "total_tokens")
    }


def _cost(response: ModelResponse) -> float:
    """The call's price from LiteLLM's model map; 0 for models it does not price."""
    try:
        return float(litellm.completion_cost(completion_response=response) or 0.0)
    except Exception:  # noqa: BLE001 - unpriced (local, mock, new) models cost nothing known
        return float(response._hidden_params.get("response_cost") or 0.0)


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
