"""The `auterity` command: dev, api, worker, migrate, temporal, tenant, user, secrets, version."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from auterity import __version__
from auterity.errors import ConfigError, DependencyUnavailable
from auterity.settings import Settings, load_settings

app = typer.Typer(help="Auterity: durable workflow automation on Temporal.", no_args_is_help=True)
temporal_app = typer.Typer(
    help="Manage the Temporal cluster Auterity runs on.", no_args_is_help=True
)
app.add_typer(temporal_app, name="temporal")

F = TypeVar("F", bound=Callable[..., Any])


def exit_now(code: int) -> NoReturn:
    """End the process without finalizing the interpreter.

    A command that started the Temporal client's runtime must not let Python finalize
    while the runtime's threads may still call back into it: that can abort or crash
    the process (temporalio/sdk-python#300), turning a clean exit 0 or 2 into 134 or
    -11."""
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


def one_line_errors(command: F) -> F:
    """Bad configuration or an unreachable dependency: one line naming it, exit 2."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (ConfigError, DependencyUnavailable) as exc:
            typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
            exit_now(2)

    return wrapper  # type: ignore[return-value]


def _settings(**overrides: Any) -> Settings:
    return load_settings(**{k: v for k, v in overrides.items() if v is not None})


def _check_app_database(settings: Settings) -> None:
    """The app's database answers; in production its login is one row-level security binds."""
    from auterity.db import check_app_login, check_database, make_engine

    engine = make_engine(settings.database_url_resolved)
    try:
        check_database(engine)
        if settings.env == "production":
            check_app_login(engine)
    finally:
        engine.dispose()


def _observe(settings: Settings, service_name: str) -> None:
    """Logs (AUTERITY_LOG_FORMAT) and traces (OTEL_TRACES_EXPORTER) of a long-running process."""
    from auterity import logs, telemetry

    logs.configure(settings.log_format_resolved, settings.log_level)
    telemetry.configure_from_environment(service_name)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(f"auterity {__version__}")


@app.command()
@one_line_errors
def migrate(
    revision: Annotated[str, typer.Option(help="Target revision")] = "head",
) -> None:
    """Apply database migrations up to REVISION."""
    from auterity import migrate as migrations
    from auterity.db import check_database, make_engine

    settings = _settings()
    url = settings.migration_database_url_resolved
    engine = make_engine(url)
    check_database(engine)
    engine.dispose()
    migrations.upgrade(url, revision)
    typer.echo(f"database migrated to {revision}")


@app.command()
@one_line_errors
def api(
    host: Annotated[str | None, typer.Option(help="Address to bind")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (AUTERITY_API_PORT)")] = None,
) -> None:
    """Run the HTTP API."""
    import uvicorn

    from api.main import create_app
    from auterity import telemetry
    from auterity.network import ensure_port_free

    settings = _settings(api_host=host, api_port=port)
    _observe(settings, "auterity-api")
    ensure_port_free(settings.api_host, settings.api_port, "--port / AUTERITY_API_PORT")
    if settings.metrics_port:
        ensure_port_free(settings.api_host, settings.metrics_port, "AUTERITY_METRICS_PORT")
    _check_app_database(settings)
    application = create_app(settings)
    if settings.metrics_port:  # metrics on a port of their own, never exposed to tenants
        import prometheus_client

        prometheus_client.start_http_server(settings.metrics_port, addr=settings.api_host)
    # What startup built (modules, routes, schemas) lives as long as the process: keep it
    # out of the collector's generations, or every full collection walks it again.
    gc.collect()
    gc.freeze()
    # One process per API replica: scale out with more replicas behind a load balancer.
    uvicorn.run(
        application,
        host=settings.api_host,
        port=settings.api_port,
        log_level=settings.log_level.lower(),
        log_config=None,  # the root handler of `_observe`: JSON lines or text, context included
        timeout_graceful_shutdown=10,
    )
    telemetry.shutdown()


@app.command()
@one_line_errors
def worker(
    task_queue: Annotated[str | None, typer.Option(help="Task queue to poll")] = None,
    llm: Annotated[
        bool,
        typer.Option(
            "--llm",
            help="Run llm nodes only, from AUTERITY_LLM_TASK_QUEUE: the one worker that "
            "imports LiteLLM, so the workers holding runs never do",
        ),
    ] = False,
) -> None:
    """Run a Temporal worker that executes graphs (or, with --llm, their llm nodes)."""
    from auterity import telemetry
    from workers.main import run_worker

    settings = _settings(task_queue=task_queue)
    if llm and not settings.llm_task_queue:
        raise ConfigError("--llm: set AUTERITY_LLM_TASK_QUEUE, the task queue llm nodes run on")
    _check_app_database(settings)
    _observe(settings, "auterity-worker")
    asyncio.run(run_worker(settings, llm=llm))
    telemetry.shutdown()  # the spans still buffered, before the process ends abruptly
    exit_now(0)  # drained and closed


@temporal_app.command("setup")
@one_line_errors
def temporal_setup() -> None:
    """Register Auterity's search attributes on the configured namespace."""
    from auterity import temporal

    async def setup() -> list[str]:
        client = await temporal.connect(_settings())
        return await temporal.register_search_attributes(client)

    added = asyncio.run(setup())
    typer.echo(
        f"search attributes added: {', '.join(added)}" if added else "search attributes present"
    )
    exit_now(0)


@app.command()
@one_line_errors
def dev(
    port: Annotated[int, typer.Option(help="API port")] = 8000,
    temporal_port: Annotated[int, typer.Option(help="Temporal gRPC port")] = 7233,
    temporal_ui_port: Annotated[int, typer.Option(help="Temporal Web UI port")] = 8233,
    home: Annotated[Path | None, typer.Option(help="Data folder (AUTERITY_HOME)")] = None,
) -> None:
    """Start Temporal (dev server), a worker and the API together; Ctrl-C stops all three."""
    from auterity.dev import run_dev

    sys.exit(run_dev(port=port, temporal_port=temporal_port, ui_port=temporal_ui_port, home=home))


tenant_app = typer.Typer(help="Manage tenants.", no_args_is_help=True)
user_app = typer.Typer(help="Manage users.", no_args_is_help=True)
secrets_app = typer.Typer(help="Manage secrets at rest.", no_args_is_help=True)
app.add_typer(tenant_app, name="tenant")
app.add_typer(user_app, name="user")
app.add_typer(secrets_app, name="secrets")


def _sessions(settings: Settings) -> Any:
    from auterity import audit
    from auterity.db import check_database, make_engine, make_sessionmaker

    audit.use_settings(settings)
    engine = make_engine(settings.database_url_resolved)
    check_database(engine)
    return make_sessionmaker(engine)


def _refuse(exc: Exception) -> typer.Exit:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    return typer.Exit(2)


@tenant_app.command("create")
@one_line_errors
def tenant_create(
    slug: Annotated[str, typer.Argument(help="Immutable; workflow ids start with it")],
    name: Annotated[str, typer.Option(help="Display name")] = "",
    domain: Annotated[list[str] | None, typer.Option(help="Verified email domain (repeat)")] = None,
) -> None:
    """Create a tenant."""
    from auterity.bootstrap import create_tenant_with_audit
    from auterity.security.accounts import AccountError

    settings = _settings()
    try:
        tenant = create_tenant_with_audit(_sessions(settings), settings, slug, name, domain or [])
    except AccountError as exc:
        raise _refuse(exc) from None
    typer.echo(f"tenant {tenant.slug} created (id {tenant.id})")


@user_app.command("create")
@one_line_errors
def user_create(
    email: Annotated[str, typer.Argument(help="The person's email (their login)")],
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    role: Annotated[list[str] | None, typer.Option(help="Role (repeat; default owner)")] = None,
    name: Annotated[str, typer.Option(help="Display name")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin")
    ] = False,
) -> None:
    """Create a user (or add an existing one) in a tenant; a new password is printed once."""
    from auterity.bootstrap import create_member
    from auterity.security.accounts import AccountError

    settings = _settings()
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    try:
        created = create_member(
            _sessions(settings),
            settings,
            tenant_slug=tenant,
            email=email,
            name=name,
            roles=role or ["owner"],
            password=password,
        )
    except AccountError as exc:
        raise _refuse(exc) from None
    typer.echo(f"{created.user.email} is {', '.join(created.roles)} in {created.tenant.slug}")
    if created.password:
        typer.echo(f"password: {created.password}")


@secrets_app.command("reencrypt")
@one_line_errors
def secrets_reencrypt() -> None:
    """Re-seal every stored secret under AUTERITY_SECRET_KEY (run after rotating it)."""
    from auterity.secrets import SecretStore

    settings = _settings()
    count = SecretStore(_sessions(settings), settings).reencrypt_all()
    typer.echo(f"{count} secret(s) re-encrypted with the current key")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
