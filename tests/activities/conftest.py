"""Activity test fixtures: a blob store, an HTTP client and an activity environment.
The servers the nodes call are in `tests/servers.py`."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import ActivityEnvironment

from activities.blobs import FileBlobStore
from auterity.egress import EgressClient
from tests.support import LOOPBACK_EGRESS


@pytest.fixture
def blobs(tmp_path: Path) -> FileBlobStore:
    return FileBlobStore(tmp_path / "blobs")


@pytest.fixture
async def http_client() -> AsyncIterator[EgressClient]:
    """The worker's client, allowing loopback (the test servers) as `auterity dev` does."""
    async with EgressClient(LOOPBACK_EGRESS) as client:
        yield client


@pytest.fixture
def activity_env() -> ActivityEnvironment:
    """Runs activity code as the worker would, with a 30 s attempt budget."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, start_to_close_timeout=timedelta(seconds=30))
    return env


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
