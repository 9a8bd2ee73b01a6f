"""Benchmark: what the model gateway adds to a model call, against LiteLLM alone.

Run on demand (not part of `make test`):

    .venv/bin/python -m tests.benchmarks.gateway [--calls 200] [--database-url URL] [--stream]

Both sides call the same OpenAI-compatible server on loopback (`tests.servers`):

- A, the gateway: the `node.llm` activity as the worker runs it (rendering, the tenant's
  stored route read from the database, the cached Router, the egress check, the budget
  reservation and its settlement in the ledger, the output);
- B, LiteLLM alone: `Router.acompletion` on a Router with the same deployment.

With `--stream` both sides stream the answer (the node's `stream: true`; LiteLLM's
`stream=True`, its chunks read to the end). Calls alternate A B A B…; the figures are
medians per call. The last line is:

    RESULT gateway_ms=<a> litellm_ms=<b> added_ms=<a-b> ratio=<a/b>
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.testing import ActivityEnvironment

from activities.blobs import FileBlobStore
from activities.gateway import new_router
from activities.llm import LlmActivities
from auterity import migrate
from auterity.db import make_engine, make_sessionmaker, transaction
from auterity.gateway.ledger import Ledger
from auterity.gateway.routes import RouteConfig, to_nanos
from auterity.gateway.store import RouteStore
from auterity.models.gateway import Budget, ModelRoute
from auterity.security.accounts import create_tenant
from tests.activities.nodes import node_request
from tests.servers import ChatServer, _chat_app
from tests.support import LOOPBACK_EGRESS, serve

MODEL = "openai/echo"
PRICE = {"input_cost_per_token": 0.000001, "output_cost_per_token": 0.000002}


async def run(
    base: str, database_url: str, calls: int, home: Path, stream: bool = False
) -> dict[str, float]:
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    slug = f"bench-{uuid.uuid4().hex[:8]}"
    with transaction(sessions) as session:
        tenant_id = create_tenant(session, slug).id
    config = RouteConfig.model_validate(
        {"deployments": [{"model": MODEL, "api_base": base, **PRICE}]}
    )
    with transaction(sessions, tenant_id) as session:
        session.add(ModelRoute(name="fast", config=config.model_dump(mode="json")))
        session.add(Budget(name="daily", period="daily", limit_nanos=to_nanos(1000.0),
                           enforcement="hard"))  # fmt: skip
    gateway = LlmActivities(
        {"default": ["mock/echo"]}, FileBlobStore(home / "blobs"), egress=LOOPBACK_EGRESS,
        routes=RouteStore(sessions), ledger=Ledger(sessions),
    )  # fmt: skip
    router = new_router(
        model_list=[
            {"model_name": "fast", "litellm_params": {"model": MODEL, "api_base": base,
                                                      "api_key": "no-key"}}
        ],
        num_retries=0,
    )  # fmt: skip
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, start_to_close_timeout=timedelta(seconds=30))
    messages: Any = [{"role": "user", "content": "hello"}]

    async def through_gateway() -> None:
        config = {"route": "fast", "prompt": "hello", "max_tokens": 16, "stream": stream}
        request = node_request(
            "llm", config, tenant=slug, execution_id=f"{slug}:bench:{uuid.uuid4().hex}"
        )
        result = await env.run(gateway.complete, request)
        assert result.output["text"] == "hello"

    async def litellm_alone() -> None:
        if not stream:
            response = await router.acompletion(model="fast", messages=messages, max_tokens=16)
            assert response.choices[0].message.content == "hello"
            return
        chunks: Any = await router.acompletion(
            model="fast", messages=messages, max_tokens=16, stream=True,
            stream_options={"include_usage": True},
        )  # fmt: skip
        text = [c.choices[0].delta.content or "" async for c in chunks if c.choices]
        assert "".join(text) == "hello"

    for _ in range(10):  # warm both: connections, the Router cache, the price map
        await through_gateway()
        await litellm_alone()
    a: list[float] = []
    b: list[float] = []
    for _ in range(calls):
        for side, timings in ((through_gateway, a), (litellm_alone, b)):
            started = time.perf_counter()
            await side()
            timings.append((time.perf_counter() - started) * 1000)
    engine.dispose()
    gateway_ms, litellm_ms = statistics.median(a), statistics.median(b)
    print(
        f"{calls} {'streamed ' if stream else ''}calls each on {engine.dialect.name}: gateway median {gateway_ms:.2f} ms "
        f"(p90 {statistics.quantiles(a, n=10)[-1]:.2f}), LiteLLM alone median "
        f"{litellm_ms:.2f} ms (p90 {statistics.quantiles(b, n=10)[-1]:.2f})"
    )
    return {
        "gateway_ms": gateway_ms,
        "litellm_ms": litellm_ms,
        "added_ms": gateway_ms - litellm_ms,
        "ratio": gateway_ms / litellm_ms,
    }


def main(calls: int, database_url: str | None, stream: bool) -> None:
    with tempfile.TemporaryDirectory() as home:
        url = database_url or f"sqlite:///{Path(home) / 'bench.db'}"
        migrate.upgrade(url)
        server = ChatServer(url="")
        with serve(_chat_app(server)) as base:
            server.url = base
            results = asyncio.run(run(f"{base}/v1", url, calls, Path(home), stream))
    print("RESULT " + " ".join(f"{name}={value:.3f}" for name, value in results.items()))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="calls per side (at least 50)")
    parser.add_argument("--database-url", default=None, help="a migrated database; SQLite if unset")
    parser.add_argument("--stream", action="store_true", help="both sides stream the answer")
    arguments = parser.parse_args()
    main(max(arguments.calls, 50), arguments.database_url, arguments.stream)
