"""Benchmark: capacity. 5-node runs driven to saturation through 1 or 2 API processes and
1 or 2 worker processes, with the CPU each part spends per completed run.

Run on demand (not part of `make test`):

    .venv/bin/python -m tests.benchmarks.scale [--rounds 3] [--seconds 20] [--in-flight 32]
        [--temporal-store memory|file]

It starts a Temporal dev server (`temporal server start-dev`, in memory unless
`--temporal-store file`), a fresh PostgreSQL database (127.0.0.1:5432, see
`tests.support.fresh_postgres_database`), and a receiver process on loopback. Then, for
each of the four layouts (1 API + 1 worker, 1 + 2, 2 + 1, 2 + 2) and for each round, it
starts `auterity api` and `auterity worker` processes, keeps `--in-flight` runs of

    shape (transform) -> check (condition) -> ask (llm, mock route; odd inputs only)
        -> join (merge) -> notify (http POST to the receiver)

going through the API (a new start each time the receiver sees a run's notify), and
after a warm-up measures for `--seconds`: completed runs per second, and CPU seconds
(utime + stime from /proc/<pid>/stat, before and after) per completed run of the API
processes, the worker processes, the Temporal server and the PostgreSQL backends serving
the database. The driver's and receiver's own CPU is printed too, and the whole machine's
busy CPU, so that a window measured on a shared machine says so.

Every part shares the machine: on a 2-core box the layouts show what one more process buys
when the cores are already busy, and the CPU per run is the figure to plan with.

Last line: `RESULT a1w1_rps=.. a1w2_rps=.. a2w1_rps=.. a2w2_rps=.. api_ms=.. worker_ms=..
temporal_ms=.. db_ms=.. worker_scaling=.. api_scaling=..`: runs/s are medians over the
rounds, CPU ms per run medians over every window, the scalings ratios of medians
(2 workers / 1 worker with 1 API, 2 APIs / 1 API with 2 workers).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from auterity.dev import DEV_EGRESS_ALLOW, temporal_command
from auterity.network import wait_for_port
from tests.benchmarks.api import Http1, cpu_seconds
from tests.support import free_port, fresh_postgres_database, postgres_reachable

PASSWORD = "bench-password-0123456789"
EMAIL = "bench@example.com"
LAYOUTS = [(1, 1), (1, 2), (2, 1), (2, 2)]  # (API processes, worker processes)
PARTS = ["api", "worker", "temporal", "db"]


def graph(receiver: str) -> dict[str, Any]:
    """Five nodes, one of each of the kinds a typical graph mixes."""
    return {
        "name": "scale",
        "inputs": {"type": "object", "properties": {"n": {"type": "integer"}}},
        "nodes": [
            {"id": "shape", "type": "transform",
             "config": {"value": {"n": "{{ inputs.n }}", "odd": "{{ inputs.n % 2 == 1 }}"}}},
            {"id": "check", "type": "condition", "config": {"expression": "nodes.shape.output.odd"}},
            {"id": "ask", "type": "llm",
             "config": {"route": "default", "prompt": "Order {{ nodes.shape.output.n }}: summarize"}},
            {"id": "join", "type": "merge", "config": {}},
            {"id": "notify", "type": "http",
             "config": {"method": "POST", "url": f"{receiver}/done",
                        "json": {"n": "{{ nodes.shape.output.n }}"}}},
        ],
        "edges": [
            {"from": "shape", "to": "check"},
            {"from": "check", "to": "ask", "when": "true"},
            {"from": "check", "to": "join", "when": "false"},
            {"from": "ask", "to": "join"},
            {"from": "join", "to": "notify"},
        ],
    }  # fmt: skip


# --- the receiver: its own process, counting the runs that reached their last node ----------


async def serve_receiver(port: int) -> None:
    """POST /done records the request's Idempotency-Key (a retried notify counts once);
    GET /count answers how many distinct keys it has seen."""
    seen: set[bytes] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                lines = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n")
                fields = dict(line.lower().split(b":", 1) for line in lines[1:] if b":" in line)
                await reader.readexactly(int(fields.get(b"content-length", b"0")))
                if lines[0].startswith(b"POST /done"):
                    seen.add(fields.get(b"idempotency-key", b"").strip())
                body = json.dumps({"count": len(seen)}).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n%s" % (len(body), body)
                )
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


# --- processes ---------------------------------------------------------------------------


@dataclass
class Layout:
    apis: list[subprocess.Popen[bytes]] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def layout(env: dict[str, str], home: Path, apis: int, workers: int) -> Iterator[Layout]:
    python = sys.executable
    started = Layout()
    try:
        for number in range(workers):
            log = home / f"worker-{apis}{workers}-{number}.log"
            with log.open("wb") as out:
                started.workers.append(subprocess.Popen(
                    [python, "-m", "auterity.cli", "worker"], env=env, stdout=out,
                    stderr=subprocess.STDOUT,
                ))  # fmt: skip
        for _ in range(apis):
            port = free_port()
            started.ports.append(port)
            started.apis.append(subprocess.Popen(
                [python, "-m", "auterity.cli", "api", "--port", str(port)], env=env,
            ))  # fmt: skip
        # Generous: on a busy 2-core machine a process may take a minute to import.
        deadline = time.monotonic() + 300
        for port, api in zip(started.ports, started.apis, strict=True):
            while not port_open(port):
                if time.monotonic() > deadline or api.poll() is not None:
                    raise RuntimeError(f"the API on port {port} did not start")
                time.sleep(0.2)
        for number in range(workers):
            log = home / f"worker-{apis}{workers}-{number}.log"
            while "polling task queue" not in log.read_text():
                if time.monotonic() > deadline or started.workers[number].poll() is not None:
                    raise RuntimeError(f"worker did not start: {log.read_text()[-2000:]}")
                time.sleep(0.2)
        yield started
    finally:
        for process in [*started.apis, *started.workers]:
            stop(process)


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def postgres_backends(admin_url: str, database: str) -> list[int]:
    engine = create_engine(admin_url)
    with engine.connect() as connection:
        pids = connection.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = :name"), {"name": database}
        ).scalars()
        found = [int(pid) for pid in pids]
    engine.dispose()
    return found


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    ticks = os.sysconf("SC_CLK_TCK")
    return (sum(values[:8]) - idle) / ticks, sum(values[:8]) / ticks


def cpu_or_zero(pid: int) -> float:
    try:
        return cpu_seconds(pid)
    except (FileNotFoundError, ProcessLookupError):
        return 0.0  # a backend that ended


# --- the driver --------------------------------------------------------------------------


@dataclass
class Window:
    layout: tuple[int, int]
    runs: int
    seconds: float
    cpu: dict[str, float]
    driver_cpu: float
    machine_busy_cores: float
    errors: int

    @property
    def rps(self) -> float:
        return self.runs / self.seconds

    def ms_per_run(self, part: str) -> float:
        return self.cpu[part] / max(self.runs, 1) * 1000


async def drive(
    ports: list[int],
    token: str,
    graph_id: str,
    receiver_port: int,
    in_flight: int,
    warmup: float,
    seconds: float,
    snapshot: Any,
) -> tuple[int, float, dict[str, float], float, float, int]:
    """Keep `in_flight` runs going through the API (round robin over `ports`); measure
    after `warmup` for `seconds`: (runs, elapsed, CPU by part, driver CPU, machine busy
    cores, errors)."""
    clients = [Http1("127.0.0.1", port) for port in ports]
    receiver = Http1("127.0.0.1", receiver_port)
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    path = f"/v1/graphs/{graph_id}/executions"
    started = errors = 0
    tasks: set[asyncio.Task[None]] = set()
    samples: dict[bool, str] = {}  # odd input -> a run's id, checked after the drain

    async def completed() -> int:
        _, body = await receiver.request("GET", "/count", {})
        return int(json.loads(body)["count"])

    async def start(index: int) -> None:
        nonlocal errors
        body = json.dumps({"inputs": {"n": index}}).encode()
        try:
            status, answer = await asyncio.wait_for(
                clients[index % len(clients)].request("POST", path, headers, body), 30
            )
        except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
            status, answer = 0, repr(exc).encode()
        if status != 201:
            errors += 1
            if errors == 1:
                print(f"first failed start: {status} {answer[:300]!r}", flush=True)
        else:
            samples.setdefault(index % 2 == 1, json.loads(answer)["id"])

    base = await completed()
    began = time.monotonic()
    measure_at, end_at = began + warmup, began + warmup + seconds
    before: tuple[int, float, dict[str, float], float, tuple[float, float]] | None = None
    while time.monotonic() < end_at:
        done = await completed()
        if before is None and time.monotonic() >= measure_at:
            before = (done, time.monotonic(), snapshot(), cpu_seconds(os.getpid()), machine_busy())
        for _ in range(in_flight - (started - errors - (done - base))):
            started += 1
            task = asyncio.create_task(start(base + started))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.sleep(0.02)
    done, now, after = await completed(), time.monotonic(), snapshot()
    driver, busy = cpu_seconds(os.getpid()), machine_busy()
    assert before is not None
    runs, elapsed = done - before[0], now - before[1]
    cpu = {part: after[part] - before[2][part] for part in PARTS}
    cores = (busy[0] - before[4][0]) / elapsed
    # Drain: every run started finishes before the processes stop.
    deadline = time.monotonic() + 180
    while await completed() - base < started - errors and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    await asyncio.gather(*tasks)
    for odd, execution_id in samples.items():
        _, answer = await clients[0].request("GET", f"/v1/executions/{execution_id}", headers)
        nodes = {n: state["status"] for n, state in json.loads(answer)["nodes"].items()}
        wanted = {"ask": "succeeded" if odd else "skipped", "notify": "succeeded"}
        if {n: nodes[n] for n in wanted} != wanted:
            raise RuntimeError(f"run {execution_id} did not go as the graph says: {nodes}")
    for client in [*clients, receiver]:
        await client.close()
    return runs, elapsed, cpu, driver - before[3], cores, errors


async def login_and_save(url: str, receiver: str, graph_id: str) -> tuple[str, str]:
    """A fresh access token, and the graph (saved the first time)."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        login = await client.post("/v1/auth/login", json={"email": EMAIL, "password": PASSWORD})
        token = login.json()["access_token"]
        if graph_id:
            return token, graph_id
        saved = await client.post(
            "/v1/graphs", json=graph(receiver), headers={"Authorization": f"Bearer {token}"}
        )
        assert saved.status_code == 201, saved.text
        return token, saved.json()["id"]


def main(rounds: int, seconds: float, warmup: float, in_flight: int, store: str) -> None:
    if not postgres_reachable():
        raise SystemExit("PostgreSQL is not reachable (AUTERITY_TEST_POSTGRES_URL)")
    home = Path(tempfile.mkdtemp(prefix="auterity-scale-"))
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, home, True)
        database_url = stack.enter_context(fresh_postgres_database())
        database = database_url.rsplit("/", 1)[1]
        admin_url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)

        temporal_port, ui_port = free_port(), free_port()
        command = [
            *temporal_command(home, temporal_port, ui_port, in_memory=store == "memory"),
            "--headless",
        ]
        temporal = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stack.callback(stop, temporal)
        wait_for_port("127.0.0.1", temporal_port, 60, "Temporal")

        receiver_port = free_port()
        receiver = subprocess.Popen(
            [sys.executable, "-m", "tests.benchmarks.scale", "--receiver", str(receiver_port)]
        )
        stack.callback(stop, receiver)
        wait_for_port("127.0.0.1", receiver_port, 30, "receiver")

        env = dict(
            os.environ,
            AUTERITY_DATABASE_URL=database_url,
            AUTERITY_HOME=str(home),
            AUTERITY_TEMPORAL_ADDRESS=f"127.0.0.1:{temporal_port}",
            AUTERITY_LOG_LEVEL="WARNING",
            AUTERITY_BOOTSTRAP_ADMIN_EMAIL=EMAIL,
            AUTERITY_BOOTSTRAP_ADMIN_PASSWORD=PASSWORD,
            AUTERITY_TASK_QUEUE="scale",
            AUTERITY_EGRESS_ALLOW=DEV_EGRESS_ALLOW,
            AUTERITY_WORKER_METRICS_PORT="0",
        )
        subprocess.run(
            [sys.executable, "-m", "auterity.cli", "migrate"], env=env, check=True,
            capture_output=True,
        )  # fmt: skip
        from auterity.bootstrap import bootstrap_dev
        from auterity.db import make_engine, make_sessionmaker
        from auterity.settings import load_settings

        settings = load_settings(
            home=home, database_url=database_url, bootstrap_admin_email=EMAIL,
            bootstrap_admin_password=PASSWORD,
        )  # fmt: skip
        engine = make_engine(settings.database_url_resolved)
        bootstrap_dev(make_sessionmaker(engine), settings)
        engine.dispose()

        print(
            f"machine: {os.cpu_count()} cores, load average {Path('/proc/loadavg').read_text()[:15]}"
            f"; Temporal dev server ({store}), PostgreSQL {database}, {in_flight} runs in flight, "
            f"{warmup:.0f} s warm-up, {seconds:.0f} s measured",
            flush=True,
        )
        windows: list[Window] = []
        graph_id = ""
        for number in range(rounds):
            for apis, workers in LAYOUTS:
                with layout(env, home, apis, workers) as running:
                    # A new sign-in each time: an access token lives 15 minutes.
                    token, graph_id = asyncio.run(
                        login_and_save(
                            f"http://127.0.0.1:{running.ports[0]}",
                            f"http://127.0.0.1:{receiver_port}",
                            graph_id,
                        )
                    )
                    pids = {
                        "api": [p.pid for p in running.apis],
                        "worker": [p.pid for p in running.workers],
                        "temporal": [temporal.pid],
                    }

                    def snapshot(pids: dict[str, list[int]] = pids) -> dict[str, float]:
                        cpu = {part: sum(map(cpu_seconds, pids[part])) for part in pids}
                        backends = postgres_backends(admin_url, database)
                        cpu["db"] = sum(cpu_or_zero(pid) for pid in backends)
                        return cpu

                    runs, elapsed, cpu, driver, cores, errors = asyncio.run(
                        drive(
                            running.ports, token, graph_id, receiver_port, in_flight, warmup,
                            seconds, snapshot,
                        )
                    )  # fmt: skip
                window = Window((apis, workers), runs, elapsed, cpu, driver, cores, errors)
                windows.append(window)
                print(
                    f"round {number + 1} api={apis} workers={workers}: {window.rps:6.1f} runs/s "
                    f"({runs} in {elapsed:.1f} s, {errors} start errors); CPU ms per run: "
                    + ", ".join(f"{part} {window.ms_per_run(part):.1f}" for part in PARTS)
                    + f"; driver {driver / max(runs, 1) * 1000:.1f}; machine busy "
                    f"{cores:.2f} of {os.cpu_count()} cores, ours "
                    f"{(sum(cpu.values()) + driver) / elapsed:.2f}",
                    flush=True,
                )
    report(windows)


def report(windows: list[Window]) -> None:
    def rps(apis: int, workers: int) -> list[float]:
        return [w.rps for w in windows if w.layout == (apis, workers)]

    print("\nlayout        runs/s median [range]")
    for apis, workers in LAYOUTS:
        values = rps(apis, workers)
        print(
            f"api={apis} workers={workers}  {statistics.median(values):6.1f} "
            f"[{min(values):.1f}-{max(values):.1f}]"
        )
    ms = {part: [w.ms_per_run(part) for w in windows] for part in PARTS}
    print("\nCPU per completed run (all windows), median [range], and runs/s one core holds:")
    for part in PARTS:
        median = statistics.median(ms[part])
        print(
            f"  {part:9} {median:6.1f} ms [{min(ms[part]):.1f}-{max(ms[part]):.1f}]  "
            f"-> {1000 / median if median else float('inf'):6.1f} runs/s per core"
        )
    total = sum(statistics.median(ms[part]) for part in PARTS)
    print(f"  all parts {total:6.1f} ms -> {100 * total / 1000:.1f} cores per 100 runs/s")
    medians = {layout: statistics.median(rps(*layout)) for layout in LAYOUTS}
    print(
        "RESULT "
        + " ".join(f"a{a}w{w}_rps={medians[(a, w)]:.1f}" for a, w in LAYOUTS)
        + " "
        + " ".join(f"{part}_ms={statistics.median(ms[part]):.1f}" for part in PARTS)
        + f" worker_scaling={medians[(1, 2)] / medians[(1, 1)]:.2f}"
        + f" api_scaling={medians[(2, 2)] / medians[(1, 2)]:.2f}"
    )


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--receiver":
        asyncio.run(serve_receiver(int(sys.argv[2])))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20, help="measured per layout")
    parser.add_argument("--warmup", type=float, default=10, help="seconds before measuring")
    parser.add_argument("--in-flight", type=int, default=32, help="runs kept going at once")
    parser.add_argument(
        "--temporal-store", choices=["memory", "file"], default="memory",
        help="the dev server's store: the file-backed one saturates first on 2 cores",
    )  # fmt: skip
    arguments = parser.parse_args()
    main(
        max(arguments.rounds, 1), arguments.seconds, arguments.warmup, arguments.in_flight,
        arguments.temporal_store,
    )  # fmt: skip
