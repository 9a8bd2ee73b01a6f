"""Activity test fixtures: a blob store, an HTTP client and an activity environment.
The servers the nodes call are in `tests/servers.py`."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import ActivityEnvironment

from activities.blobs import FileBlobStore


@pytest.fixture
def blobs(tmp_path: Path) -> FileBlobStore:
    return FileBlobStore(tmp_path / "blobs")


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(follow_redirects=False) as client:
        yield client


@pytest.fixture
def activity_env() -> ActivityEnvironment:
    """Runs activity code as the worker would, with a 30 s attempt budget."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, start_to_close_timeout=timedelta(seconds=30))
    return env


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
