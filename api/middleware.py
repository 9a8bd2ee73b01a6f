"""ASGI middleware: body size limit (413), request ids, Prometheus request metrics, and the
end of a request's database session that no route dependency ended."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import end_session

REQUESTS = Counter("auterity_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "auterity_http_request_seconds", "HTTP request latency", ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)  # fmt: skip


class BodyTooLarge(Exception):
    pass


class RequestLimits:
    """Refuse bodies above `max_body_bytes` with 413 problem+json; tag each request with an id;
    end the session that only authentication used."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:100] or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(send, request_id)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge
            return message

        started = time.perf_counter()
        status = 500

        async def tagged_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, limited_receive, tagged_send)
        except BodyTooLarge:
            status = 413
            await self._too_large(send, request_id)
        finally:
            await end_session(scope, commit=False)  # authentication's alone: it only read
            counted, timed = _series(scope["method"], _route_template(scope), status)
            counted.inc()
            timed.observe(time.perf_counter() - started)

    async def _too_large(self, send: Send, request_id: str) -> None:
        body = json.dumps(
            {
                "type": "https://auterity.dev/problems/413",
                "title": "Content too large",
                "status": 413,
                "detail": f"request body exceeds {self.max_body_bytes} bytes",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-request-id", request_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


_SERIES: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def _series(method: str, route: str, status: int) -> tuple[Any, Any]:
    """The request counter's and the latency histogram's series of a request, looked up
    once per label set (`labels` takes a lock and checks its labels on every call). The
    labels are bounded: route templates, not paths."""
    key = (method, route, status)
    series = _SERIES.get(key)
    if series is None:
        series = _SERIES[key] = (
            REQUESTS.labels(method, route, str(status)),
            LATENCY.labels(method, route),
        )
    return series


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"
