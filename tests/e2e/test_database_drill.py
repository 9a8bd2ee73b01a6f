"""Drill: PostgreSQL stopped and started again under a load of starts.

`auterity api` and `auterity worker` run as processes against a private PostgreSQL
cluster made inside the test (never the machine's shared server, which other tests use).
Starts are driven eight at a time; the cluster is stopped mid-load and started again.
Every request is answered at once: 201, or 503 problem+json with Retry-After while the
database is down, never a 500 or a hung connection. The same API process serves 201s
again once the database is back, and every run that started has its audit entry (a run
whose entry could not be written is terminated, with that reason, and was answered 503).
The cluster is stopped both ways pg_ctl knows: fast (a restart) and immediate (a crash).

Every other start carries an Idempotency-Key. That path writes the entry once Temporal
says the run is new; if the trail is down then, the run goes on and the caller gets 503,
and the client's retry with the same key (sent here once the database is back) writes
the missing entry.
"""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus

from auterity import migrate
from auterity.db import make_engine, make_sessionmaker, transaction
from auterity.dev import DEV_EGRESS_ALLOW
from auterity.models.audit import AuditEntry
from auterity.models.tasks import HumanTask
from tests.conftest import IN_CI
from tests.e2e.test_embedded_load import APPROVAL, processes
from tests.e2e.test_worker_crash import until
from tests.factories import Member, auth_headers, make_member, save_graph
from tests.support import free_port

pytestmark = pytest.mark.e2e

CONCURRENCY = 8
ANSWER_SECONDS = 30.0
"""A request with no answer within this is a hung connection."""
TERMINATED_REASON = "its audit entry could not be written"


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's binaries (Debian's layout, then PATH)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parent.parent.name),
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PrivatePostgres:
    """A throwaway cluster on a free loopback port; as the `postgres` OS user when root
    (the server refuses to run as root)."""

    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.port = free_port()
        self.home = Path(tempfile.mkdtemp(prefix="auterity-pg-drill-"))
        self.data = self.home / "data"
        self.log = self.home / "server.log"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.home, account.pw_uid, account.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str, timeout: float = 120) -> None:
        command = [*self.as_user, str(self.binaries / tool), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"{tool} failed: {done.stdout}\n{done.stderr}"

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.home}"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        command = [*self.as_user, str(self.binaries / "pg_ctl"), "-D", str(self.data), "status"]
        return subprocess.run(command, capture_output=True).returncode == 0

    def remove(self) -> None:
        if self.data.exists() and self.running():
            self.stop("immediate")
        shutil.rmtree(self.home, ignore_errors=True)


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    binaries = postgres_bin()
    if binaries is None:
        if IN_CI:
            pytest.fail("PostgreSQL's binaries (initdb, pg_ctl) are missing; CI must run this")
        pytest.skip("PostgreSQL's binaries (initdb, pg_ctl) are not installed")
    cluster = PrivatePostgres(binaries)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


class StartLoad:
    """Starts of one graph, `CONCURRENCY` at a time, until told to stop; every answer is
    kept with the phase of the drill it was sent in."""

    def __init__(self, api: httpx.AsyncClient, graph_id: str, headers: dict[str, str]) -> None:
        self.api = api
        self.graph_id = graph_id
        self.headers = headers
        self.phase = "up"
        self.answers: list[tuple[str, int, dict[str, str], dict[str, Any] | None]] = []
        self.hung: list[str] = []
        self.refused_keys: list[str] = []
        """Keys of keyed starts answered 503: the client repeats them later."""
        self._stop = asyncio.Event()

    def count(self, phase: str, status: int | None = None) -> int:
        return sum(
            1 for sent, got, _, _ in self.answers
            if sent == phase and (status is None or got == status)
        )  # fmt: skip

    async def _one(self) -> None:
        phase = self.phase
        key = uuid.uuid4().hex if len(self.answers) % 2 else None  # every other start keyed
        response = await self.send(phase, key)
        if response is not None and response.status_code == 503:
            if key:
                self.refused_keys.append(key)
            await asyncio.sleep(0.1)  # a client honouring Retry-After would wait longer

    async def send(self, phase: str, key: str | None) -> httpx.Response | None:
        try:
            response = await self.api.post(
                f"/v1/graphs/{self.graph_id}/executions",
                json={"inputs": {}},
                headers=self.headers | ({"Idempotency-Key": key} if key else {}),
            )
        except httpx.TimeoutException:
            self.hung.append(phase)
            return None
        body = response.json() if response.content else None
        self.answers.append((phase, response.status_code, dict(response.headers), body))
        return response

    async def repeat_refused(self) -> None:
        """The client's retries: each keyed start answered 503, again with its key."""
        for key in self.refused_keys:
            response = await self.send("repeated", key)
            # 200 when the run had started (its entry written now), 201 when it had not
            assert response is not None and response.status_code in (200, 201), response

    async def _lane(self) -> None:
        while not self._stop.is_set():
            await self._one()

    async def run(self) -> None:
        await asyncio.gather(*(self._lane() for _ in range(CONCURRENCY)))

    def stop(self) -> None:
        self._stop.set()


def check_answers(load: StartLoad) -> set[str]:
    """Every answer a 201 or a 503 problem with Retry-After, none hung; the ids started."""
    statuses = Counter(status for _, status, _, _ in load.answers)
    by_phase = {
        phase: dict(Counter(status for sent, status, _, _ in load.answers if sent == phase))
        for phase in ("up", "stopping", "down", "starting", "back", "repeated")
    }
    print(f"RESULT answers={len(load.answers)} {dict(statuses)} by_phase={by_phase}")
    assert not load.hung, f"{len(load.hung)} requests got no answer within {ANSWER_SECONDS}s"
    assert set(statuses) <= {200, 201, 503}, by_phase
    assert load.count("repeated") == sum(load.count("repeated", ok) for ok in (200, 201))
    assert statuses[200] == load.count("repeated", 200), "only a repeated key answers 200"
    assert load.count("down", 503) == load.count("down"), "a start succeeded with no database"
    for _phase, status, headers, body in load.answers:
        if status == 503:
            assert headers["content-type"] == "application/problem+json"
            assert int(headers["retry-after"]) >= 1
            assert body is not None and body["status"] == 503, body
            assert body["title"] == "Service unavailable" and body["detail"], body
    started = {body["id"] for _, status, _, body in load.answers if status < 300 and body}
    assert len(started) == statuses[201] + statuses[200]
    return started


async def check_audit(
    client: Client, sessions: sessionmaker[Session], member: Member, started: set[str]
) -> None:
    """Every run answered 201 has its `execution.start` entry; every other run Temporal
    holds for the tenant was terminated because its entry could not be written."""

    def audited() -> set[str]:
        with transaction(sessions, member.tenant_id) as session:
            query = select(AuditEntry.target_id).where(
                AuditEntry.action == "execution.start", AuditEntry.outcome == "success"
            )
            return {target for target in session.scalars(query) if target is not None}

    entries = await asyncio.to_thread(audited)
    assert started <= entries, f"{len(started - entries)} started runs have no audit entry"
    query = f"AuterityTenant = '{member.tenant_slug}'"
    deadline = time.monotonic() + 60
    while True:  # visibility lags behind the starts a little
        runs = [execution async for execution in client.list_workflows(query)]
        if started <= {execution.id for execution in runs}:
            break
        assert time.monotonic() < deadline, "started runs missing from Temporal's visibility"
        await asyncio.sleep(1)
    for execution in runs:
        if execution.id in entries:
            continue
        assert execution.status == WorkflowExecutionStatus.TERMINATED, execution.id
        history = await client.get_workflow_handle(execution.id).fetch_history()
        reason = history.events[-1].workflow_execution_terminated_event_attributes.reason
        assert reason == TERMINATED_REASON, (execution.id, reason)


async def until_tasks_opened(
    sessions: sessionmaker[Session], member: Member, started: set[str], seconds: float
) -> None:
    """The worker came back too: every started run opens its human task."""

    def opened() -> set[str]:
        with transaction(sessions, member.tenant_id) as session:
            return set(session.scalars(select(HumanTask.execution_id)))

    deadline = time.monotonic() + seconds
    while missing := started - await asyncio.to_thread(opened):
        assert time.monotonic() < deadline, f"{len(missing)} started runs never opened a task"
        await asyncio.sleep(1)


@pytest.mark.parametrize("stop", ["fast", "immediate"])  # pg_ctl's modes: a restart, a crash
async def test_postgres_restarted_during_starts_answers_503_and_loses_no_audit_entry(
    temporal_address: str, temporal_client: Client, tmp_path: Path, stop: str
) -> None:
    with private_postgres() as cluster:
        url = cluster.url.replace("postgresql://", "postgresql+psycopg://", 1)
        migrate.upgrade(url)
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        member = make_member(sessions)
        env = dict(
            os.environ, AUTERITY_HOME=str(tmp_path), AUTERITY_DATABASE_URL=cluster.url,
            AUTERITY_TEMPORAL_ADDRESS=temporal_address,
            AUTERITY_TASK_QUEUE=f"pg-drill-{uuid.uuid4()}", AUTERITY_WORKER_METRICS_PORT="0",
            AUTERITY_EGRESS_ALLOW=DEV_EGRESS_ALLOW, AUTERITY_LOG_LEVEL="WARNING",
        )  # fmt: skip
        started: set[str] = set()
        try:
            # One API process throughout: it is never restarted.
            with processes(env, tmp_path, free_port()) as base:
                async with httpx.AsyncClient(base_url=base, timeout=ANSWER_SECONDS) as api:
                    headers = await auth_headers(api, member)
                    graph_id = await save_graph(api, headers, APPROVAL)
                    load = StartLoad(api, graph_id, headers)
                    driving = asyncio.create_task(load.run())
                    try:
                        await until(lambda: load.count("up", 201) >= 20, 60, "starts before")
                        load.phase = "stopping"
                        await asyncio.to_thread(cluster.stop, stop)
                        load.phase = "down"
                        await until(lambda: load.count("down") >= 40, 60, "answers while down")
                        load.phase = "starting"
                        await asyncio.to_thread(cluster.start)
                        load.phase = "back"
                        await until(lambda: load.count("back", 201) >= 20, 60, "starts after")
                    finally:
                        load.stop()
                        await asyncio.wait_for(driving, ANSWER_SECONDS + 10)
                    await load.repeat_refused()
                    started = check_answers(load)
                    await check_audit(temporal_client, sessions, member, started)
                    await until_tasks_opened(sessions, member, started, 120)
        finally:
            for execution_id in started:
                await temporal_client.get_workflow_handle(execution_id).terminate(reason="over")
            engine.dispose()
