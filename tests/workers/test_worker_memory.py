"""What a worker holds in memory: the runs it caches between steps, and LiteLLM only once
an llm node runs (tests/workers/test_gateway.py runs that node through the same path)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from temporalio.client import Client

from auterity.settings import WORKER_MAX_CACHED_WORKFLOWS, load_settings
from workers.activities import ActivityRuntime
from workers.main import build_worker

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("cached", [None, 0, 40])
async def test_the_worker_caches_as_many_runs_as_the_setting_says(
    temporal_client: Client, task_queue: str, tmp_path: Path, cached: int | None
) -> None:
    overrides = {} if cached is None else {"worker_max_cached_workflows": cached}
    settings = load_settings(env="test", home=tmp_path, **overrides)
    async with ActivityRuntime(settings) as runtime:
        worker = build_worker(
            temporal_client, settings, runtime.activities(), task_queue=task_queue
        )
    expected = WORKER_MAX_CACHED_WORKFLOWS if cached is None else cached
    assert worker.config()["max_cached_workflows"] == expected


def test_a_negative_cache_size_is_refused_naming_the_setting(tmp_path: Path) -> None:
    from auterity.errors import ConfigError

    with pytest.raises(ConfigError, match="AUTERITY_WORKER_MAX_CACHED_WORKFLOWS"):
        load_settings(env="test", home=tmp_path, worker_max_cached_workflows=-1)


@pytest.mark.parametrize("preload", [False, True])
def test_a_worker_imports_litellm_at_start_only_when_told_to_preload(
    tmp_path: Path, preload: bool
) -> None:
    """In a fresh interpreter, since this test session may have imported LiteLLM already."""
    script = textwrap.dedent(
        f"""
        import sys
        from auterity.graph.contracts import LLM_ACTIVITY
        from auterity.settings import load_settings
        from workers.activities import ActivityRuntime
        from workers.main import workflow_classes

        settings = load_settings(env="test", home={str(tmp_path)!r}, worker_preload_llm={preload})
        runtime = ActivityRuntime(settings)
        names = [fn.__temporal_activity_definition.name for fn in runtime.activities()]
        workflow_classes()
        assert LLM_ACTIVITY in names, names
        print("litellm" in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(preload), "LiteLLM imported (True) or not (False)"


async def test_the_llm_worker_polls_the_llm_task_queue_with_the_llm_activity_alone(
    temporal_client: Client, task_queue: str, tmp_path: Path
) -> None:
    from auterity.graph.contracts import LLM_ACTIVITY
    from workers.main import build_llm_worker

    settings = load_settings(env="test", home=tmp_path, llm_task_queue=f"{task_queue}-llm")
    async with ActivityRuntime(settings) as runtime:
        config = build_llm_worker(temporal_client, settings, runtime).config()
    assert config["task_queue"] == f"{task_queue}-llm"
    assert not config.get("workflows")
    names = [fn.__temporal_activity_definition.name for fn in config["activities"]]
    assert names == [LLM_ACTIVITY]


def test_auterity_worker_llm_refuses_to_start_without_the_llm_task_queue(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if k != "AUTERITY_LLM_TASK_QUEUE"}
    done = subprocess.run(
        [sys.executable, "-m", "auterity.cli", "worker", "--llm"],
        cwd=REPO, env={**environment, "AUTERITY_HOME": str(tmp_path)},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "AUTERITY_LLM_TASK_QUEUE" in lines[0], done.stderr
