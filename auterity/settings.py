"""One Settings class: `AUTERITY_*` environment variables and `.env`."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from auterity.egress import EgressPolicy
from auterity.errors import ConfigError
from auterity.graph.budget import DEADLINE_SECONDS
from auterity.graph.model import parse_duration

TENANT_CEILING_SETTING = "AUTERITY_TENANT_EGRESS_CEILING"
DEFAULT_SECRET_KEY = "dev-insecure-change-me-0123456789abcdef"
WORKER_MAX_CACHED_WORKFLOWS = 250
"""Runs a worker holds between steps; see README (Production, worker memory)."""


class Settings(BaseSettings):
    """Every knob of the platform; production mode refuses unsafe values."""

    model_config = SettingsConfigDict(
        env_prefix="AUTERITY_", env_file=".env", extra="ignore", validate_default=True
    )

    env: Literal["development", "test", "production"] = "development"
    home: Path = Path(".auterity")

    database_url: str = Field(default="", description="SQLAlchemy URL; SQLite under home if empty")
    migration_database_url: str = Field(
        default="",
        description="The tables' owner, for `auterity migrate`; the app's URL if empty. In "
        "production the app connects as a member of the auterity_app role, which does not "
        "own the tables, so that row-level security binds it",
    )
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET_KEY)
    secret_keys_previous: list[SecretStr] = Field(
        default_factory=list, description="Older keys still accepted while rotating"
    )

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_tls: bool = False
    temporal_tls_ca: Path | None = None
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None
    temporal_api_key: SecretStr | None = None
    task_queue: str = "auterity"
    llm_task_queue: str = Field(
        default="",
        description="Task queue of llm node activities, polled by `auterity worker --llm` "
        "workers (the only ones that import LiteLLM); empty: the task queue of the run",
    )

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    public_url: str = ""
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, description="Larger bodies get 413")
    cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="How long the API keeps sign-ins, current graph versions and secret "
        "redaction lists it has read (changes drop them at once; see auterity.cache); 0: off",
    )

    sso_internal_hosts: list[str] = Field(
        default_factory=list,
        description="IdP hosts that SSO may reach on internal addresses (an on-premises "
        "Keycloak); outside production, over http too. Every other IdP URL must be https "
        "on a public address",
    )
    metrics_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="A second port on which `auterity api` serves only Prometheus metrics "
        "(what production deployments scrape); 0: off",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token Prometheus sends to scrape /metrics on the API's own port; "
        "in production that /metrics answers 404 without one (scrape AUTERITY_METRICS_PORT)",
    )
    stream_recheck_seconds: float = Field(
        default=15.0,
        gt=0,
        le=300,
        description="How often a live event stream re-checks its credential: an expired token "
        "or a revoked session closes it",
    )
    schedule_min_interval: str = Field(
        default="1m", description="The shortest interval a schedule may have (a duration)"
    )
    schedule_backfill_max_actions: int = Field(
        default=500,
        ge=1,
        le=999,  # Temporal lists at most 1,000 matching times: the count must stay below that
        description="The most runs one backfill may start",
    )

    bootstrap_admin_email: str = "admin@example.com"
    bootstrap_admin_password: SecretStr | None = None

    model_routes: dict[str, list[str]] = Field(
        default_factory=lambda: {"default": ["mock/echo"]},
        description="Route name -> model names, first is primary, the rest are fallbacks",
    )

    egress_allow: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Addresses, CIDRs and host names (*.corp for a domain) that http nodes "
        "and model api_bases may reach although they are loopback, private, link-local or "
        "otherwise not public; comma-separated or a JSON list. Empty: public internet only",
    )
    tenant_egress_ceiling: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="What tenants may open for themselves (PATCH /v1/tenant egress_allow): "
        "CIDRs and host names (*.corp for a domain's hosts) a tenant's entries must fall "
        "within; comma-separated or a JSON list. Empty: tenants open nothing",
    )
    template_deadline_seconds: float = Field(
        default=DEADLINE_SECONDS,
        gt=0,
        le=300,
        description="Wall-clock limit of one template render in activities and the API "
        "(workflow code counts steps only)",
    )

    redis_url: str = Field(
        default="",
        description="Redis for the model gateway's response cache (redis://host:6379/0); "
        "routes may set cache_seconds only when it is set",
    )
    sqlite_wait_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="SQLite only: how long a transaction waits for the one write lock (its "
        "turn in this process, then as long again for other processes) before the API "
        "answers 503 with Retry-After",
    )

    blob_threshold_bytes: int = Field(default=64 * 1024, ge=1024)
    blob_url: str = Field(default="", description="s3://bucket/prefix; filesystem if empty")

    worker_metrics_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="Prometheus port of the worker's Temporal metrics; 0: off",
    )
    worker_max_cached_workflows: int = Field(
        default=WORKER_MAX_CACHED_WORKFLOWS,
        ge=0,
        description="Runs a worker keeps in memory between their steps (the sticky cache); "
        "a run evicted from it is rebuilt by replaying its history when it next has work. "
        "Each costs its interpreter's memory while it waits; 0: none kept",
    )
    worker_preload_llm: bool = Field(
        default=False,
        description="Import LiteLLM when the worker starts (about 200 MB of memory) rather "
        "than on its first llm node, whose first attempt then also pays the import (seconds "
        "of CPU): set it on workers that run llm nodes with timeouts under a minute",
    )
    log_level: str = "INFO"
    log_format: Literal["json", "text"] | None = Field(
        default=None,
        description="Server log lines: json (one object a line, the default in production) "
        "or text (the default elsewhere)",
    )
    web_dir: Path | None = Field(
        default=None, description="The built web builder; web/dist of the checkout when unset"
    )

    @field_validator("database_url", "migration_database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if value and urlsplit(value).scheme.split("+")[0] not in {
            "sqlite",
            "postgresql",
            "postgres",
        }:
            raise ValueError("must be a sqlite:// or postgresql:// URL")
        return value

    @field_validator("egress_allow", "tenant_egress_ceiling", mode="before")
    @classmethod
    def _allow_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            return json.loads(text) if text.startswith("[") else text.split(",")
        return value

    @field_validator("egress_allow", "tenant_egress_ceiling")
    @classmethod
    def _allow_entries(cls, entries: list[str]) -> list[str]:
        EgressPolicy.parse(entries)
        return [entry.strip() for entry in entries if entry.strip()]

    @property
    def log_format_resolved(self) -> Literal["json", "text"]:
        return self.log_format or ("json" if self.env == "production" else "text")

    @property
    def secrets_require_hosts(self) -> bool:
        """Whether every secret must be bound to hosts (production): one without is refused
        by the API and sent nowhere by activities."""
        return self.env == "production"

    @property
    def egress_policy(self) -> EgressPolicy:
        """What tenant-controlled URLs may reach (`auterity.egress`)."""
        return EgressPolicy.parse(self.egress_allow)

    @property
    def tenant_egress_ceiling_policy(self) -> EgressPolicy:
        """What a tenant's own allow-list may open (`auterity.egress.tenant_entry_problem`)."""
        return EgressPolicy.parse(self.tenant_egress_ceiling, setting=TENANT_CEILING_SETTING)

    @field_validator("schedule_min_interval")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("temporal_address")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("AUTERITY_TEMPORAL_ADDRESS must be host:port")
        return value

    @model_validator(mode="after")
    def _safe_in_production(self) -> Settings:
        if self.env != "production":
            return self
        if self.secret_key.get_secret_value() == DEFAULT_SECRET_KEY:
            raise ValueError("AUTERITY_SECRET_KEY must be set to a private value in production")
        if len(self.secret_key.get_secret_value()) < 32:
            raise ValueError("AUTERITY_SECRET_KEY must be at least 32 characters in production")
        if self.database_url_resolved.startswith("sqlite"):
            raise ValueError("AUTERITY_DATABASE_URL must point at PostgreSQL in production")
        for route, models in self.model_routes.items():
            if any(model.startswith("mock") for model in models):
                raise ValueError(
                    f"AUTERITY_MODEL_ROUTES route '{route}' uses a mock model in production"
                )
        return self

    @property
    def database_url_resolved(self) -> str:
        """The SQLAlchemy URL with the driver spelled out."""
        return _with_driver(
            self.database_url or f"sqlite:///{(self.home / 'auterity.db').as_posix()}"
        )

    @property
    def migration_database_url_resolved(self) -> str:
        return (
            _with_driver(self.migration_database_url)
            if self.migration_database_url
            else (self.database_url_resolved)
        )

    @property
    def blob_dir(self) -> Path:
        return self.home / "blobs"


def _with_driver(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load_settings(**overrides: object) -> Settings:
    """Build Settings, turning a validation error into one line naming the setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        if field and not message.startswith("AUTERITY_"):
            message = f"AUTERITY_{field.upper()}: {message}"
        raise ConfigError(message) from None


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings (tests build their own with load_settings)."""
    return load_settings()
