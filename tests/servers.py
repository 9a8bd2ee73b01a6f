"""Real servers on loopback that tests point nodes at: a recording HTTP service and an
OpenAI-compatible chat completions endpoint (`pytest_plugins` in tests/conftest.py)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse

from tests.support import serve


@dataclass
class Recorder:
    """What a test server saw: every request, and calls per idempotency key."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    keys: Counter[str] = field(default_factory=Counter)
    failures_left: dict[str, int] = field(default_factory=dict)

    def calls(self, path: str) -> list[dict[str, Any]]:
        return [request for request in self.requests if request["path"] == path]


def _service(recorder: Recorder) -> FastAPI:
    app = FastAPI()

    async def record(request: Request) -> dict[str, Any]:
        raw = await request.body()
        seen = {
            "method": request.method,
            "path": request.url.path,
            "query": dict(request.query_params),
            "headers": dict(request.headers),
            "body": raw.decode(),
        }
        recorder.requests.append(seen)
        key = request.headers.get("idempotency-key")
        if key:
            recorder.keys[key] += 1
        return seen

    @app.api_route("/echo", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def echo(request: Request) -> dict[str, Any]:
        return await record(request)

    @app.api_route("/status/{code}", methods=["GET", "POST"])
    async def status(code: int, request: Request) -> Response:
        await record(request)
        headers = (
            {"Retry-After": request.query_params["retry_after"]}
            if ("retry_after" in request.query_params)
            else {}
        )
        return JSONResponse({"error": f"status {code}"}, status_code=code, headers=headers)

    @app.post("/flaky")
    async def flaky(request: Request) -> Response:
        """Fails with 503 as many times as `failures_left[key]` says, then succeeds."""
        seen = await record(request)
        key = seen["headers"].get("idempotency-key", "")
        if recorder.failures_left.get(key, 0) > 0:
            recorder.failures_left[key] -= 1
            return JSONResponse({"error": "try again"}, status_code=503)
        return JSONResponse({"ok": True, "key": key})

    @app.get("/redirect")
    async def redirect(request: Request) -> Response:
        await record(request)
        return Response(status_code=302, headers={"Location": request.query_params["to"]})

    @app.get("/text")
    async def text(request: Request) -> Response:
        await record(request)
        return PlainTextResponse("plain words")

    @app.get("/big")
    async def big(request: Request) -> Response:
        await record(request)
        size = int(request.query_params.get("items", "5000"))
        return JSONResponse({"items": [{"n": n, "label": f"item-{n}"} for n in range(size)]})

    return app


@pytest.fixture(scope="module")
def service() -> Iterator[tuple[str, Recorder]]:
    """A recording HTTP service on a loopback port: (base URL, recorder)."""
    recorder = Recorder()
    with serve(_service(recorder)) as url:
        yield url, recorder


STALL_LIMIT_SECONDS = 60.0
"""A stalled call answers after this long even unreleased, so the server can stop."""


@dataclass
class ChatServer:
    """An OpenAI-compatible endpoint whose behaviour is picked by the model name:
    `echo` repeats the last user message, `broken` answers 500, `rejecting` 400,
    `limited` 429, `say:<text>` answers `<text>`, `stall:<tag>` answers nothing until the
    test calls `release(<tag>)` (then echoes); every request is recorded. With
    `"stream": true` the answer comes as server-sent chunks (see `_chunks`), and
    `stallonce:<tag>` stalls the first such stream mid-way, `nousage` streams no usage."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    keys: list[str | None] = field(default_factory=list)
    """The Authorization header of each request."""
    released: set[str] = field(default_factory=set)
    stalled: Counter[str] = field(default_factory=Counter)
    """Requests per tag that have been held (still held or since released)."""
    abandoned: Counter[str] = field(default_factory=Counter)
    """Held requests per tag whose caller had gone by the time they were released."""

    def models(self) -> list[str]:
        return [request["model"] for request in self.requests]

    def release(self, tag: str) -> None:
        """Stalled calls of `tag` answer, and later ones answer at once."""
        self.released.add(tag)


def _chat_app(server: ChatServer) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = await request.json()
        server.requests.append(body)
        server.keys.append(request.headers.get("authorization"))
        model = body["model"]
        if model == "broken":
            return JSONResponse(
                {"error": {"message": "upstream exploded", "type": "server_error"}}, 500
            )
        if model == "limited":
            return JSONResponse(
                {"error": {"message": "slow down", "type": "rate_limit_exceeded"}},
                429,
            )
        if model == "rejecting":
            return JSONResponse(
                {"error": {"message": "bad request", "type": "invalid_request_error"}}, 400
            )
        if model.startswith("stall:"):
            tag = model.removeprefix("stall:")
            if tag not in server.released:
                await _stall(server, tag, request)
        if model.startswith("say:"):
            content = model.removeprefix("say:")
        else:
            users = [m["content"] for m in body["messages"] if m["role"] == "user"]
            content = users[-1] if users else ""
        if body.get("stream"):
            return StreamingResponse(
                _chunks(server, body, content, request), media_type="text/event-stream"
            )
        return JSONResponse(
            {
                "id": f"chatcmpl-{len(server.requests)}",
                "object": "chat.completion",
                "created": 1,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
            }
        )

    return app


async def _stall(server: ChatServer, tag: str, request: Request) -> bool:
    """Hold the answer until `release(<tag>)` (or `STALL_LIMIT_SECONDS`), counting the stall;
    whether the client went away meanwhile (counted as abandoned)."""
    server.stalled[tag] += 1
    waited = 0.0
    while tag not in server.released and waited < STALL_LIMIT_SECONDS:
        await asyncio.sleep(0.05)
        waited += 0.05
    if await request.is_disconnected():
        server.abandoned[tag] += 1
        return True
    return False


STREAM_PIECE_CHARS = 4
"""A streamed answer comes in pieces of this many characters, one SSE event each."""


async def _chunks(
    server: ChatServer, body: dict[str, Any], content: str, request: Request
) -> AsyncIterator[str]:
    """The answer as OpenAI's stream: a role chunk, the content in pieces, a finish chunk,
    then (with `stream_options.include_usage`) a usage chunk, then `[DONE]`. A model
    `stallonce:<tag>` stops after its first piece, the first time, until `release(<tag>)`."""
    model = body["model"]

    def event(choices: list[dict[str, Any]], **extra: Any) -> str:
        chunk = {
            "id": f"chatcmpl-{len(server.requests)}", "object": "chat.completion.chunk",
            "created": 1, "model": model, "choices": choices, **extra,
        }  # fmt: skip
        return f"data: {json.dumps(chunk)}\n\n"

    def delta(content: str | None, finish: str | None = None) -> str:
        part = {} if content is None else {"content": content}
        return event([{"index": 0, "delta": part, "finish_reason": finish}])

    yield event([{"index": 0, "delta": {"role": "assistant", "content": ""}}])
    size = STREAM_PIECE_CHARS
    for index, piece in enumerate(content[i : i + size] for i in range(0, len(content), size)):
        yield delta(piece)
        tag = model.removeprefix("stallonce:")
        first_stall = index == 0 and model.startswith("stallonce:") and not server.stalled[tag]
        if first_stall and await _stall(server, tag, request):
            return
    yield delta(None, "stop")
    if (body.get("stream_options") or {}).get("include_usage") and model != "nousage":
        usage = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
        yield event([], usage=usage)
    yield "data: [DONE]\n\n"


@pytest.fixture(scope="module")
def chat_server() -> Iterator[ChatServer]:
    server = ChatServer(url="")
    with serve(_chat_app(server)) as url:
        server.url = url
        yield server


@dataclass
class S3Server:
    """An S3-compatible server (moto's server mode) on a loopback port, with one bucket."""

    endpoint: str
    bucket: str

    def url(self, prefix: str) -> str:
        """The `AUTERITY_BLOB_URL` of a store under `prefix` in the bucket."""
        return f"s3://{self.bucket}/{prefix}?endpoint={self.endpoint}&region={S3_REGION}"

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name=S3_REGION)

    def objects(self, prefix: str) -> list[str]:
        listed = self.client().list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(item["Key"] for item in listed.get("Contents", []))


S3_REGION = "us-east-1"
S3_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test-access-key",
    "AWS_SECRET_ACCESS_KEY": "test-secret-key",
}


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server speaking the real protocol over HTTP; AWS credentials in the
    environment as a deployment would set them."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in S3_CREDENTIALS.items():
            patch.setenv(name, value)
        s3 = S3Server(endpoint=f"http://{host}:{port}", bucket="auterity-blobs")
        s3.client().create_bucket(Bucket=s3.bucket)
        try:
            yield s3
        finally:
            server.stop()
