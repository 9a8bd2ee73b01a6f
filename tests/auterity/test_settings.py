"""Settings: embedded defaults, URL normalisation, production refusals."""

from __future__ import annotations

import pytest

from auterity.errors import ConfigError
from auterity.settings import load_settings

SAFE_KEY = "k" * 40
PG = "postgresql://auterity@db:5432/auterity"


def test_embedded_defaults_use_sqlite_under_home(tmp_path) -> None:
    settings = load_settings(home=tmp_path)
    assert settings.database_url_resolved == f"sqlite:///{tmp_path.as_posix()}/auterity.db"
    assert settings.temporal_address == "127.0.0.1:7233"


def test_postgres_urls_get_the_psycopg_driver() -> None:
    assert load_settings(database_url=PG).database_url_resolved.startswith("postgresql+psycopg://")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({}, "AUTERITY_SECRET_KEY must be set to a private value in production"),
        (
            {"secret_key": "short"},
            "AUTERITY_SECRET_KEY must be at least 32 characters in production",
        ),
        ({"secret_key": SAFE_KEY}, "AUTERITY_DATABASE_URL must point at PostgreSQL in production"),
        (
            {"secret_key": SAFE_KEY, "database_url": PG},
            "AUTERITY_MODEL_ROUTES route 'default' uses a mock model in production",
        ),
    ],
)
def test_production_refuses_unsafe_values(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(env="production", **overrides)
    assert str(error.value) == message


def test_production_accepts_safe_values() -> None:
    settings = load_settings(
        env="production",
        secret_key=SAFE_KEY,
        database_url=PG,
        model_routes={"default": ["openai/gpt-4o-mini", "anthropic/claude-3-5-haiku"]},
    )
    assert settings.env == "production"


def test_malformed_values_name_the_setting() -> None:
    with pytest.raises(ConfigError, match="AUTERITY_API_PORT"):
        load_settings(api_port=0)
    with pytest.raises(ConfigError, match="AUTERITY_TEMPORAL_ADDRESS must be host:port"):
        load_settings(temporal_address="localhost")


def test_migrations_may_run_as_the_tables_owner() -> None:
    app = "postgresql://app@db/auterity"
    settings = load_settings(
        database_url=app, migration_database_url="postgresql://owner@db/auterity"
    )
    assert settings.database_url_resolved == "postgresql+psycopg://app@db/auterity"
    assert settings.migration_database_url_resolved == "postgresql+psycopg://owner@db/auterity"
    assert load_settings(database_url=app).migration_database_url_resolved.endswith(
        "app@db/auterity"
    )
    with pytest.raises(ConfigError, match="AUTERITY_MIGRATION_DATABASE_URL: must be a sqlite://"):
        load_settings(migration_database_url="mysql://x")


def test_the_egress_allow_list_is_parsed_and_checked() -> None:
    settings = load_settings(egress_allow="10.0.0.0/8, wiki.corp ,*.intra.example")
    assert settings.egress_allow == ["10.0.0.0/8", "wiki.corp", "*.intra.example"]
    assert settings.egress_policy.allows_host("a.intra.example")
    assert load_settings(egress_allow='["::1"]').egress_policy.networks[0].compressed == "::1/128"
    assert load_settings().egress_policy.networks == ()
    with pytest.raises(ConfigError) as error:
        load_settings(egress_allow="10.0.0.0/8,not a host")
    assert str(error.value) == (
        "AUTERITY_EGRESS_ALLOW: 'not a host' is neither an address, a CIDR nor a host name"
    )


def test_the_template_deadline_is_bounded() -> None:
    assert load_settings().template_deadline_seconds == 5.0
    with pytest.raises(ConfigError, match="AUTERITY_TEMPLATE_DEADLINE_SECONDS"):
        load_settings(template_deadline_seconds=0)
