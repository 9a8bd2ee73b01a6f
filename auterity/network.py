"""Port checks that turn "address already in use" into a message naming the setting."""

from __future__ import annotations

import socket
import time

from auterity.errors import ConfigError, DependencyUnavailable


def ensure_port_free(host: str, port: int, setting: str) -> None:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            raise ConfigError(f"port {port} on {host} is already in use ({setting})") from None


def wait_for_port(host: str, port: int, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise DependencyUnavailable(
        f"{what} did not start listening on {host}:{port} in {timeout:.0f}s"
    )
