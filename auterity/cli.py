"""The `auterity` command: dev, api, worker, migrate, temporal setup, version."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

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


def one_line_errors(command: F) -> F:
    """Bad configuration or an unreachable dependency: one line naming it, exit 2."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (ConfigError, DependencyUnavailable) as exc:
            typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def _settings(**overrides: Any) -> Settings:
    return load_settings(**{k: v for k, v in overrides.items() if v is not None})


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
    engine = make_engine(settings.database_url_resolved)
    check_database(engine)
    engine.dispose()
    migrations.upgrade(settings.database_url_resolved, revision)
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
    from auterity.db import check_database, make_engine
    from auterity.network import ensure_port_free

    settings = _settings(api_host=host, api_port=port)
    ensure_port_free(settings.api_host, settings.api_port, "--port / AUTERITY_API_PORT")
    engine = make_engine(settings.database_url_resolved)
    check_database(engine)
    engine.dispose()
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=10,
    )


@app.command()
@one_line_errors
def worker(
    task_queue: Annotated[str | None, typer.Option(help="Task queue to poll")] = None,
) -> None:
    """Run a Temporal worker that executes graphs."""
    from workers.main import run_worker

    settings = _settings(task_queue=task_queue)
    asyncio.run(run_worker(settings))


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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
