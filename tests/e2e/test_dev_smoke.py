"""`auterity dev` as a user runs it: starts all three parts, answers /readyz, stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support import free_port

pytestmark = pytest.mark.e2e


def _descendants(pid: int) -> set[int]:
    """Every live process whose ancestry reaches `pid` (read from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        children = {child for child, parent in parents.items() if parent in frontier}
        frontier = children - found
        found |= children
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_dev_starts_everything_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    api_port, temporal_port, ui_port = free_port(), free_port(), free_port()
    env = dict(os.environ, AUTERITY_HOME=str(tmp_path / "home"))
    env.pop("AUTERITY_DATABASE_URL", None)
    env.pop("AUTERITY_EGRESS_ALLOW", None)
    command = [sys.executable, "-m", "auterity.cli", "dev", "--port", str(api_port)]
    command += ["--temporal-port", str(temporal_port), "--temporal-ui-port", str(ui_port)]
    log = tmp_path / "dev.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    children: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        ready = False
        while time.monotonic() < deadline and process.poll() is None:
            children |= _descendants(process.pid)
            try:
                response = httpx.get(f"http://127.0.0.1:{api_port}/readyz", timeout=2)
                if response.status_code == 200 and "Ctrl-C" in log.read_text():
                    ready = True
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        assert ready, log.read_text()[-3000:]
        children |= _descendants(process.pid)
        assert len(children) >= 3, "expected Temporal, worker and API as children"
        banner = log.read_text()
        assert f"http://127.0.0.1:{api_port}/docs" in banner
        assert f"http://127.0.0.1:{ui_port}" in banner
        assert "127.0.0.0/8,::1 (AUTERITY_EGRESS_ALLOW)" in banner  # local tests call loopback
        assert httpx.get(f"http://127.0.0.1:{ui_port}", timeout=5).status_code == 200

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0, log.read_text()[-3000:]
        time.sleep(0.5)
        left = {pid for pid in children if _alive(pid)}
        assert not left, f"child processes left running: {left}"
        assert (tmp_path / "home" / "temporal.db").exists()
        assert (tmp_path / "home" / "auterity.db").exists()
    finally:
        if process.poll() is None:
            process.kill()
        for pid in children:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_dev_refuses_a_port_in_use_with_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "auterity.cli", "dev", "--port", str(port)],
            env=dict(os.environ, AUTERITY_HOME=str(tmp_path)),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: port {port} on 127.0.0.1 is already in use (--port)"
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("AUTERITY_DATABASE_URL", "mysql://x", "AUTERITY_DATABASE_URL: must be a sqlite://"),
        ("AUTERITY_TEMPORAL_ADDRESS", "no-port", "AUTERITY_TEMPORAL_ADDRESS must be host:port"),
        ("AUTERITY_API_PORT", "70000", "AUTERITY_API_PORT"),
    ],
)
def test_malformed_settings_give_one_line(
    tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "auterity.cli", "migrate"],
        env=dict(os.environ, AUTERITY_HOME=str(tmp_path), **{variable: value}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_unreachable_dependencies_give_one_line(tmp_path: Path) -> None:
    dead = free_port()
    database = subprocess.run(
        [sys.executable, "-m", "auterity.cli", "migrate"],
        env=dict(os.environ, AUTERITY_DATABASE_URL=f"postgresql://x@127.0.0.1:{dead}/x"),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert database.returncode == 2
    assert database.stderr.startswith("error: database at postgresql+psycopg://x@127.0.0.1")
    assert len(database.stderr.strip().splitlines()) == 1
    temporal = subprocess.run(
        [sys.executable, "-m", "auterity.cli", "temporal", "setup"],
        env=dict(os.environ, AUTERITY_TEMPORAL_ADDRESS=f"127.0.0.1:{dead}"),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert temporal.returncode == 2
    assert "AUTERITY_TEMPORAL_ADDRESS" in temporal.stderr
    assert len(temporal.stderr.strip().splitlines()) == 1


def test_production_refuses_unsafe_values(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "auterity.cli", "migrate"],
        env=dict(os.environ, AUTERITY_ENV="production", AUTERITY_HOME=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: AUTERITY_SECRET_KEY must be set to a private value in production"
    )
