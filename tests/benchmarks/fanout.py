"""Benchmark: big foreach fan-outs on a real Temporal dev server.

Run on demand (not part of `make test`):

    .venv/bin/python -m tests.benchmarks.fanout [--cases 1000,3000,10000,100x100] [--runs 1]

Each case runs one graph: `N` maps an http node over `range(N)`; `AxB` maps a
subgraph over `range(A)` whose graph maps an http node over `range(B)`; `N:P` pads
each item's result with `P` characters; `sN` maps it over `range(N)` computed by a
transform and stored (the run's blob threshold is 4 KiB), so the parent reads no item
and each batch reads its own with `blob.slice`. The http activity answers at once, so only
orchestration is timed; the blob activities are the real ones over a temporary
directory. Per case it prints the seconds (and per item), the number of child runs,
the events of the parent and of the largest child, the bytes of the parent's and of the
largest history,
and the worker's RSS before and at its peak (the worker runs in this process; sampled
every 50 ms). The dev server's log (level warn) is scanned for its history size/count
warnings (10,240 events or 10 MB by default). The last line is, per case,

    RESULT <case>=<s>s/x<per-item time over 1000's>/<children>ch/<parent>+<largest child>ev/
           <largest history MB>MB/<peak RSS MB>MBrss ... warnings=<n>
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from activities.blobs import BlobStore, FileBlobStore, resolve_refs
from auterity.dev import temporal_command
from auterity.graph import contracts, naming
from auterity.graph.compiler import compile_graph
from auterity.graph.run import WORKFLOW_NAME, GraphRunInput, GraphRunResult
from tests.support import free_port
from tests.workflows.graph_workflow.support import stored_values_worker

URL = "http://127.0.0.1:9/noop"
WARNING = re.compile(r"history (size|count|length)[^\n]*(warn|exceed)", re.IGNORECASE)


@activity.defn(name=contracts.HTTP_ACTIVITY)
async def echo_http(request: contracts.NodeActivityInput) -> contracts.NodeActivityOutput:
    """Stands in for the HTTP activity: answers at once with the item it was given, and
    `pad` characters of padding when its URL asks (`?pad=<n>`)."""
    output: dict[str, Any] = {"item": request.scope.get("item")}
    pad = str(request.config["url"]).partition("?pad=")[2]
    if pad:
        output["pad"] = "x" * int(pad)
    return contracts.NodeActivityOutput(output=output)


STORED_THRESHOLD = 4096
"""The blob threshold of an `sN` run: `range(N)` for N over about 1,000 is stored."""


def foreach_graph(
    name: str, count: int, body: dict[str, Any], stored: bool = False
) -> dict[str, Any]:
    listed = f"range({count}) | list"
    items = "nodes.made.output" if stored else listed
    each = {
        "id": "each",
        "type": "foreach",
        "config": {"items": items, "node": body, "concurrency": 200},
    }
    if not stored:
        return {"name": name, "nodes": [each], "edges": []}
    made = {"id": "made", "type": "transform", "config": {"expression": listed}}
    return {"name": name, "nodes": [made, each], "edges": [{"from": "made", "to": "each"}]}


def case_input(case: str) -> tuple[GraphRunInput, int]:
    """The run of a case, and how many http calls it makes. `N:P` pads each item's result
    with `P` characters."""
    case, _, pad = case.partition(":")
    stored = case.startswith("s")
    case = case.removeprefix("s")
    http: dict[str, Any] = {"type": "http", "config": {"url": URL, "json": "{{ item }}"}}
    if pad:
        http["config"]["url"] = f"{URL}?pad={int(pad)}"
    if "x" not in case:
        count = int(case)
        name = f"{'stored' if stored else 'map'}{count}"
        plan = compile_graph(foreach_graph(name, count, http, stored))
        subgraphs = {}
        calls = count
    else:
        outer, inner = (int(part) for part in case.split("x"))
        inner_plan = compile_graph(foreach_graph(f"inner{inner}", inner, http))
        body = {
            "type": "subgraph",
            "config": {"graph_id": inner_plan.name, "version": inner_plan.version_id},
        }
        plan = compile_graph(foreach_graph(f"outer{outer}", outer, body))
        subgraphs = {inner_plan.version_id: inner_plan}
        calls = outer * inner
    request = GraphRunInput(
        tenant="bench",
        graph_id=plan.name,
        version_id=plan.version_id,
        plan=plan,
        trigger="bench",
        subgraphs=subgraphs,
        blob_threshold_bytes=(
            STORED_THRESHOLD if stored else contracts.DEFAULT_BLOB_THRESHOLD_BYTES
        ),
    )
    return request, calls


def rss_bytes() -> int:
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@dataclass
class Figures:
    case: str
    items: int
    seconds: float
    children: int
    parent_events: int
    parent_bytes: int
    largest_events: int
    largest_bytes: int
    rss_start: int
    rss_peak: int

    def line(self) -> str:
        return (
            f"{self.case:>8}: {self.items:6} items {self.seconds:7.1f} s "
            f"({self.seconds / self.items * 1000:.2f} ms/item)  children {self.children:4}  "
            f"events parent {self.parent_events:5} largest {self.largest_events:5}  "
            f"history parent {self.parent_bytes / 1e3:7.1f} kB largest "
            f"{self.largest_bytes / 1e6:6.2f} MB  "
            f"worker RSS {self.rss_start / 2**20:.0f} -> peak {self.rss_peak / 2**20:.0f} MB"
        )


async def run_case(client: Client, task_queue: str, case: str, store: BlobStore) -> Figures:
    request, calls = case_input(case)
    workflow_id = f"bench:{request.graph_id}:{uuid.uuid4().hex[:12]}"
    rss_start = rss_bytes()
    peak = rss_start
    began = time.perf_counter()
    handle = await client.start_workflow(
        WORKFLOW_NAME,
        request,
        id=workflow_id,
        task_queue=task_queue,
        result_type=GraphRunResult,
        search_attributes=naming.run_attributes("bench", request.graph_id, request.version_id),
    )
    outcome = asyncio.ensure_future(handle.result())
    while not outcome.done():
        peak = max(peak, rss_bytes())
        await asyncio.wait([outcome], timeout=0.05)
    result = outcome.result()
    seconds = time.perf_counter() - began
    outputs = await resolve_refs(store, "bench", result.output["each"])
    if "x" in case:
        inner = calls // len(outputs)
        outputs = [item for run in outputs for item in run["each"]]
    else:
        inner = calls
    pad = {"pad": "x" * int(case.partition(":")[2])} if ":" in case else {}
    expected = [{"item": index % inner, **pad} for index in range(calls)]
    assert outputs == expected, f"{case}: {len(outputs)} outputs, not the {calls} expected"
    sizes = []
    async for execution in client.list_workflows(f"WorkflowId STARTS_WITH '{workflow_id}'"):
        described = await client.get_workflow_handle(
            execution.id, run_id=execution.run_id
        ).describe()
        info = described.raw_description.workflow_execution_info
        sizes.append((execution.id == workflow_id, info.history_length, info.history_size_bytes))
    parent, parent_bytes = max((length, size) for is_parent, length, size in sizes if is_parent)
    children = [(length, size) for is_parent, length, size in sizes if not is_parent]
    return Figures(
        case=case,
        items=calls,
        seconds=seconds,
        children=len(children),
        parent_events=parent,
        parent_bytes=parent_bytes,
        largest_events=max((length for length, _ in children), default=0),
        largest_bytes=max(size for _, _, size in sizes),
        rss_start=rss_start,
        rss_peak=peak,
    )


async def start_server(log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [*temporal_command(log.parent, port, free_port(), in_memory=True), "--headless"]
    server = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    address = f"127.0.0.1:{port}"
    for _ in range(300):
        try:
            await Client.connect(address)
            return server, address
        except Exception:
            await asyncio.sleep(0.1)
    server.kill()
    raise RuntimeError(f"the dev server did not start; see {log}")


async def main(cases: list[str], runs: int) -> None:
    log = Path(tempfile.mkdtemp(prefix="fanout-")) / "temporal.log"
    server, address = await start_server(log)
    store = FileBlobStore(log.parent / "blobs")
    try:
        client = await Client.connect(address, data_converter=pydantic_data_converter)
        task_queue = f"bench-{uuid.uuid4()}"
        async with stored_values_worker(
            client, task_queue, store, echo_http, 64 * 1024, max_concurrent_activities=500
        ):
            await run_case(client, task_queue, "50", store)  # warm up the sandbox and caches
            figures: dict[str, list[Figures]] = {}
            for _ in range(runs):
                for case in cases:
                    measured = await run_case(client, task_queue, case, store)
                    print(measured.line(), flush=True)
                    figures.setdefault(case, []).append(measured)
    finally:
        server.terminate()
        server.wait(timeout=30)
    warnings = [
        line for line in log.read_text(errors="replace").splitlines() if WARNING.search(line)
    ]
    for line in warnings[:5]:
        print("server:", line[:300])
    print(f"dev server log {log}: {len(warnings)} history warnings")
    per_item = {
        case: statistics.median(f.seconds / f.items for f in samples)
        for case, samples in figures.items()
    }
    reference = per_item.get("1000")
    parts = []
    for case, samples in figures.items():
        best = sorted(samples, key=lambda f: f.seconds)[len(samples) // 2]
        ratio = f"/x{per_item[case] / reference:.2f}" if reference else ""
        parts.append(
            f"{case}={best.seconds:.1f}s{ratio}/{best.children}ch/{best.parent_events}+"
            f"{best.largest_events}ev/{best.largest_bytes / 1e6:.2f}MB/"
            f"{max(f.rss_peak for f in samples) / 2**20:.0f}MBrss"
        )
    print("RESULT " + " ".join(parts) + f" warnings={len(warnings)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="1000,3000,10000,100x100")
    parser.add_argument("--runs", type=int, default=1)
    arguments = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the dev server too
    asyncio.run(main(arguments.cases.split(","), arguments.runs))
