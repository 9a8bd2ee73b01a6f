"""The embedded default (SQLite) under a small team's load: `auterity api` and `auterity
worker` as processes on one SQLite file, starts of a graph that opens a human task, eight
at a time. Every request is answered, at once: 201, or 503 problem+json with Retry-After
when SQLite is busy; none hangs and none is a 500."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from auterity import migrate
from auterity.db import make_engine, make_sessionmaker, transaction
from auterity.dev import DEV_EGRESS_ALLOW
from auterity.models.audit import AuditEntry
from tests.factories import auth_headers, make_member, save_graph
from tests.support import free_port

pytestmark = pytest.mark.e2e

STARTS = int(os.environ.get("AUTERITY_LOAD_STARTS", "400"))
CONCURRENCY = 8
ANSWER_SECONDS = 30.0
"""A request with no answer within this is a hung connection."""

APPROVAL = {
    "name": "load-approval",
    "nodes": [
        {"id": "ask", "type": "approval", "config": {"assignees": ["role:owner"], "title": "Go?"}},
    ],
    "edges": [],
}


@contextmanager
def processes(env: dict[str, str], logs: Path, port: int) -> Iterator[str]:
    """`auterity api` and `auterity worker`, as `auterity dev` runs them."""
    started: list[subprocess.Popen[bytes]] = []
    try:
        for name, args in (("api", ["api", "--port", str(port)]), ("worker", ["worker"])):
            with (logs / f"{name}.log").open("wb") as out:
                started.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "auterity.cli", *args],
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )  # fmt: skip
                )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert all(p.poll() is None for p in started), (logs / "api.log").read_text()
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (logs / "api.log").read_text()
            time.sleep(0.2)
        yield url
    finally:
        for process in started:
            process.terminate()
        for process in started:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


async def test_concurrent_starts_on_sqlite_are_all_answered(
    temporal_address: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'auterity.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    env = dict(
        os.environ, AUTERITY_HOME=str(tmp_path), AUTERITY_DATABASE_URL=url,
        AUTERITY_TEMPORAL_ADDRESS=temporal_address, AUTERITY_TASK_QUEUE=f"load-{uuid.uuid4()}",
        AUTERITY_WORKER_METRICS_PORT="0", AUTERITY_EGRESS_ALLOW=DEV_EGRESS_ALLOW,
        AUTERITY_LOG_LEVEL="WARNING",
    )  # fmt: skip
    member = make_member(sessions)
    answers: list[tuple[int, dict[str, str], dict[str, Any] | None]] = []
    hung: list[str] = []
    with processes(env, tmp_path, free_port()) as base:
        async with httpx.AsyncClient(base_url=base, timeout=ANSWER_SECONDS) as api:
            headers = await auth_headers(api, member)
            graph_id = await save_graph(api, headers, APPROVAL)
            slots = asyncio.Semaphore(CONCURRENCY)

            async def start(number: int) -> None:
                async with slots:
                    try:
                        response = await api.post(
                            f"/v1/graphs/{graph_id}/executions",
                            json={"inputs": {}},
                            headers=headers,
                        )
                    except httpx.TimeoutException:
                        hung.append(f"start {number}")
                        return
                    body = response.json() if response.content else None
                    answers.append((response.status_code, dict(response.headers), body))

            began = time.monotonic()
            await asyncio.gather(*(start(number) for number in range(STARTS)))
            elapsed = time.monotonic() - began
    statuses = Counter(status for status, _, _ in answers)
    print(
        f"RESULT starts={STARTS} concurrency={CONCURRENCY} seconds={elapsed:.1f} {dict(statuses)}"
    )
    assert not hung, f"{len(hung)} requests got no answer within {ANSWER_SECONDS}s"
    assert set(statuses) <= {201, 503}, statuses
    for status, response_headers, body in answers:
        if status == 503:
            assert response_headers["content-type"] == "application/problem+json"
            assert int(response_headers["retry-after"]) >= 1
            assert body is not None and body["status"] == 503 and "database" in body["detail"]
    assert statuses[201] >= STARTS // 2, statuses
    with transaction(sessions, member.tenant_id) as session:
        audited = session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "execution.start")
        )
    assert audited == statuses[201], "every run that started has its audit entry"
    engine.dispose()
