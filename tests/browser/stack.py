"""A real `auterity dev` stack and a headless Debian chromium, for the browser tests and the
web benchmark: Temporal dev server, worker and API (serving the built builder) as a user
starts them, on free loopback ports, with its own AUTERITY_HOME."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]
WEB_DIST = ROOT / "web" / "dist"
AXE_SOURCE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "web" / "test-results" / "screenshots"
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "a browser test passphrase"

# Headless and offline: without these, chromium reaches for the network and stalls.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_executable() -> str | None:
    """Debian's chromium (Playwright's own browser download does not work offline)."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass(frozen=True)
class Stack:
    url: str
    email: str
    password: str
    home: Path
    log: Path

    def token(self) -> str:
        return token_of(self, self.email, self.password)

    def client(self) -> httpx.Client:
        """The API as the tests' own hands (setting things up), signed in as the admin."""
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token()}"}, timeout=60
        )


@contextlib.contextmanager
def dev_stack(home: Path) -> Iterator[Stack]:
    """`auterity dev` on free ports; Ctrl-C (SIGINT) stops it afterwards."""
    home.mkdir(parents=True, exist_ok=True)
    api_port, temporal_port, ui_port = free_port(), free_port(), free_port()
    env = dict(os.environ, AUTERITY_HOME=str(home), AUTERITY_WEB_DIR=str(WEB_DIST))
    env.update(AUTERITY_BOOTSTRAP_ADMIN_EMAIL=ADMIN_EMAIL)
    env.update(AUTERITY_BOOTSTRAP_ADMIN_PASSWORD=ADMIN_PASSWORD)
    env.pop("AUTERITY_DATABASE_URL", None)
    # The tests' OpenID provider runs on loopback, as an on-premises IdP on an internal host.
    env.update(AUTERITY_SSO_INTERNAL_HOSTS='["127.0.0.1"]')
    command = [sys.executable, "-m", "auterity.cli", "dev", "--port", str(api_port)]
    command += ["--temporal-port", str(temporal_port), "--temporal-ui-port", str(ui_port)]
    log = home / "dev.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{api_port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"auterity dev exited: {log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"auterity dev did not get ready: {log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                ready = httpx.get(f"{url}/readyz", timeout=2).status_code == 200
                if ready and "Ctrl-C" in log.read_text():
                    break
            time.sleep(0.5)
        yield Stack(url=url, email=ADMIN_EMAIL, password=ADMIN_PASSWORD, home=home, log=log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def token_of(stack: Stack, email: str, password: str) -> str:
    """An access token of someone else than the admin (for their direct API calls)."""
    response = httpx.post(
        f"{stack.url}/v1/auth/login", json={"email": email, "password": password}, timeout=30
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def join(admin: httpx.Client, email: str, roles: list[str], password: str) -> None:
    """A new person joins the admin's tenant the only way there is: invited, then accepting."""
    invited = admin.post("/v1/invitations", json={"email": email, "roles": roles})
    assert invited.status_code == 201, invited.text
    accepted = admin.post(
        "/v1/invitations/accept-new",
        json={"token": invited.json()["token"], "password": password},
    )
    assert accepted.status_code == 201, accepted.text


def sign_in(
    page: Any,
    stack: Stack,
    path: str = "/graphs",
    email: str | None = None,
    password: str | None = None,
) -> None:
    """Sign in through the form, as a person does (the admin unless `email` is given), and
    land on `path`."""
    page.goto(f"{stack.url}{path}")
    page.get_by_label("Email").fill(email or stack.email)
    page.get_by_label("Password").fill(password or stack.password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(f"**{path.split('?')[0]}*")


def serious_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE_SOURCE.read_text())
    result = page.evaluate(
        """async () => {
            const report = await window.axe.run(document, {resultTypes: ["violations"]});
            return report.violations
              .filter(v => v.impact === "serious" || v.impact === "critical")
              .map(v => ({id: v.id, impact: v.impact, help: v.help,
                          nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
        }"""
    )
    return list(result)


def describe_violations(violations: list[dict[str, Any]]) -> str:
    return json.dumps(violations, indent=1)
