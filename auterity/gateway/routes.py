"""A tenant's model route as it is saved and read: deployments behind one name, how to pick
among them, where to fall back to, and how long a failing deployment sits out.

Each field maps onto LiteLLM's Router (`model_list`, `routing_strategy`, `fallbacks`,
`context_window_fallbacks`, `content_policy_fallbacks`, `cooldown_time`, `allowed_fails`,
`timeout`); `activities.llm` builds it. Validation here is what can be checked without
the database or the network; the service checks secrets, fallback names and egress.
"""

from __future__ import annotations

import re
from enum import StrEnum
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ROUTE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,99}$")
MODEL_NAME = re.compile(r"^[a-z0-9_-]+/\S{1,200}$")
SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
MOCK_PROVIDER = "mock"
NANOS_PER_USD = 1_000_000_000


class Strategy(StrEnum):
    """LiteLLM's routing strategies, by their own names."""

    SIMPLE_SHUFFLE = "simple-shuffle"
    LEAST_BUSY = "least-busy"
    LATENCY = "latency-based-routing"
    COST = "cost-based-routing"


class Deployment(BaseModel):
    """One model a route may send a call to."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="LiteLLM model name, `provider/model` (`openai/gpt-4o-mini`)")
    api_base: str | None = Field(
        default=None, description="Server to call (http or https); checked by the egress policy"
    )
    api_key_secret: str | None = Field(
        default=None,
        description="Name of the tenant secret holding the provider key; the secret must be "
        "bound to the api_base's (or the provider's) host",
    )
    weight: int = Field(default=1, ge=1, le=1000, description="Share of calls (simple-shuffle)")
    rpm: int | None = Field(default=None, ge=1, description="Requests per minute it takes")
    tpm: int | None = Field(default=None, ge=1, description="Tokens per minute it takes")
    input_cost_per_token: float | None = Field(
        default=None, ge=0, description="USD per prompt token; overrides LiteLLM's price map"
    )
    output_cost_per_token: float | None = Field(
        default=None, ge=0, description="USD per completion token; overrides LiteLLM's price map"
    )
    max_output_tokens: int | None = Field(
        default=None, ge=1, description="Worst case reserved when a node sets no max_tokens"
    )

    @field_validator("model")
    @classmethod
    def _model(cls, model: str) -> str:
        if not MODEL_NAME.match(model):
            raise ValueError("must be a LiteLLM model name, provider/model")
        return model

    @field_validator("api_base")
    @classmethod
    def _api_base(cls, api_base: str | None) -> str | None:
        if api_base is None:
            return None
        parts = urlsplit(api_base)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("must be an http or https URL with a host")
        if parts.username or parts.password:
            raise ValueError("must not carry credentials; use api_key_secret")
        return api_base.rstrip("/")

    @field_validator("api_key_secret")
    @classmethod
    def _secret(cls, name: str | None) -> str | None:
        if name is not None and not SECRET_NAME.match(name):
            raise ValueError("must be a secret name")
        return name

    @model_validator(mode="after")
    def _prices_together(self) -> Deployment:
        if (self.input_cost_per_token is None) != (self.output_cost_per_token is None):
            raise ValueError("set input_cost_per_token and output_cost_per_token together")
        return self

    @property
    def is_mock(self) -> bool:
        return self.model.startswith(f"{MOCK_PROVIDER}/")

    @property
    def priced(self) -> bool:
        return self.input_cost_per_token is not None


class RouteConfig(BaseModel):
    """What one route does; saved as is, versioned on every change."""

    model_config = ConfigDict(extra="forbid")

    deployments: list[Deployment] = Field(min_length=1, max_length=50)
    strategy: Strategy = Strategy.SIMPLE_SHUFFLE
    fallbacks: list[str] = Field(
        default_factory=list, max_length=10, description="Routes tried, in order, when it fails"
    )
    context_window_fallbacks: list[str] = Field(
        default_factory=list, max_length=10, description="Routes tried when the prompt is too long"
    )
    content_policy_fallbacks: list[str] = Field(
        default_factory=list, max_length=10, description="Routes tried on a content-policy refusal"
    )
    allowed_fails: int | None = Field(
        default=None, ge=0, le=1000, description="Failures in a minute before a cooldown"
    )
    cooldown_seconds: float | None = Field(
        default=None, gt=0, le=3600, description="How long a failing deployment sits out"
    )
    timeout_seconds: float | None = Field(
        default=None, gt=0, le=3600, description="Per-call timeout (within the node's own)"
    )
    cache_seconds: int | None = Field(
        default=None,
        ge=1,
        le=30 * 24 * 3600,
        description="Answer a repeated request (same messages and settings) from the response "
        "cache for this long, at zero cost; off when unset. Needs AUTERITY_REDIS_URL",
    )

    @field_validator("fallbacks", "context_window_fallbacks", "content_policy_fallbacks")
    @classmethod
    def _route_names(cls, names: list[str]) -> list[str]:
        for name in names:
            if not ROUTE_NAME.match(name):
                raise ValueError(f"{name!r} is not a route name")
        if len(set(names)) != len(names):
            raise ValueError("names a route twice")
        return names

    def fallback_names(self) -> list[str]:
        """Every route this one may fall back to, in order of first mention."""
        names = self.fallbacks + self.context_window_fallbacks + self.content_policy_fallbacks
        return list(dict.fromkeys(names))

    def secret_names(self) -> set[str]:
        return {d.api_key_secret for d in self.deployments if d.api_key_secret is not None}


def to_nanos(usd: float) -> int:
    """USD as whole nano-dollars, rounded up: a reservation never falls short."""
    return int(-(-round(usd * NANOS_PER_USD * 1000) // 1000))


def to_usd(nanos: int) -> float:
    return nanos / NANOS_PER_USD
