"""The `http` node: one templated request, typed failures, a stable idempotency key.

Retry semantics follow the status: 4xx is the caller's fault and is not retried,
except 408 and 429; 5xx and network failures are retried by the node's policy
(honouring `Retry-After` when the server sends seconds).

Two walls stand before anything is sent: every secret the node uses must be
bound to the URL's host (`SecretRefused`), and the `EgressClient` connects only
to addresses its policy allows (`EgressRefused`); both fail the node for good.
Redirects are answers, never followed.
"""

from __future__ import annotations

import base64
import codecs
import json
import logging
from datetime import timedelta
from typing import Any

import httpx
from temporalio import activity

from activities.blobs import DEFAULT_THRESHOLD_BYTES, BlobStore, offload
from activities.egress import TenantEgress
from activities.rendering import (
    NodeRendering,
    attempt_budget_seconds,
    current_attempt,
    prepare,
)
from activities.secrets import SecretSource
from auterity.egress import EgressClient, EgressRefused
from auterity.graph.budget import DEADLINE_SECONDS
from auterity.graph.contracts import HTTP_ACTIVITY, NodeActivityInput, NodeActivityOutput
from auterity.graph.errors import ErrorType
from auterity.graph.kinds import HTTP_METHODS, HttpAuth, HttpConfig
from auterity.graph.model import parse_duration

IDEMPOTENCY_HEADER = "Idempotency-Key"
log = logging.getLogger("auterity.activities.http")
RETRYABLE_CLIENT_STATUSES = frozenset({408, 429})
RESPONSE_HEADERS = (
    "content-type",
    "content-length",
    "content-encoding",
    "etag",
    "last-modified",
    "location",
    "retry-after",
    "link",
    "x-request-id",
)
"""The response headers a node's output keeps; the rest stay out of history."""

DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024
ERROR_BODY_CHARS = 2000


def idempotency_key(request: NodeActivityInput) -> str:
    """`<execution_id>:<node_id>[:<index>]`: the same for every attempt of one node (and item)."""
    key = f"{request.execution_id}:{request.node_id}"
    index = request.scope.get("index")
    return key if index is None else f"{key}:{index}"


class HttpActivities:
    """Runs `http` nodes with a shared `EgressClient` (whose policy decides which addresses
    they may reach); secrets come from `secrets`, large bodies go to `blobs`."""

    def __init__(
        self,
        client: EgressClient,
        secrets: SecretSource,
        blobs: BlobStore,
        threshold_bytes: int = DEFAULT_THRESHOLD_BYTES,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        template_seconds: float = DEADLINE_SECONDS,
        tenant_egress: TenantEgress | None = None,
    ) -> None:
        self.client = client
        self.tenant_egress = tenant_egress
        self.secrets = secrets
        self.blobs = blobs
        self.threshold_bytes = threshold_bytes
        self.max_response_bytes = max_response_bytes
        self.template_seconds = template_seconds

    @activity.defn(name=HTTP_ACTIVITY)
    async def request(self, request: NodeActivityInput) -> NodeActivityOutput:
        rendering = await prepare(request, self.blobs, self.secrets, self.template_seconds)
        config = rendering.parse(HttpConfig)
        client = (
            await self.tenant_egress.client(request.tenant) if self.tenant_egress else self.client
        )
        outgoing = self._build(client, request, config, rendering)
        rendering.check_destination(outgoing.url.host)
        status, headers, raw = await self._send(client, outgoing, rendering)
        output = rendering.redact(
            {"status": status, "headers": headers, "body": _parse_body(headers, raw)}
        )
        expected = config.expect_status
        if (status not in expected) if expected else not 200 <= status < 300:
            raise _status_failure(rendering, outgoing, status, headers, output["body"])
        return NodeActivityOutput(
            output=await offload(self.blobs, request.tenant, output, self.threshold_bytes),
            attempt=current_attempt(),
        )

    def _build(
        self,
        client: EgressClient,
        request: NodeActivityInput,
        config: HttpConfig,
        rendering: NodeRendering,
    ) -> httpx.Request:
        method = rendering.render("method", config.method)
        if not isinstance(method, str) or method.upper() not in HTTP_METHODS:
            raise rendering.failure(
                f"method: {method!r} is not one of {', '.join(HTTP_METHODS)}",
                type=ErrorType.HTTP_REQUEST_INVALID,
                non_retryable=True,
            )
        url = rendering.render("url", config.url)
        headers = _text_mapping(rendering, "headers", config.headers)
        query = _text_mapping(rendering, "query", config.query)
        if config.auth is not None:
            headers["Authorization"] = _authorization(rendering, config.auth)
        if not any(name.lower() == IDEMPOTENCY_HEADER.lower() for name in headers):
            headers[IDEMPOTENCY_HEADER] = idempotency_key(request)
        payload: Any = None
        content: str | None = None
        if config.json_body is not None:
            payload = rendering.render("json", config.json_body)
        elif config.body is not None:
            body = rendering.render("body", config.body)
            if not isinstance(body, str):
                raise rendering.failure(
                    "body: must render to text; use `json` for structured bodies",
                    type=ErrorType.HTTP_REQUEST_INVALID,
                    non_retryable=True,
                )
            content = body
        try:
            target = httpx.URL(str(url))
            if query:
                target = target.copy_merge_params(query)
            return client.build_request(
                method.upper(),
                target,
                headers=headers,
                json=payload,
                content=content,
                timeout=_timeout(client, config.timeout),
            )
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, TypeError, ValueError) as exc:
            raise rendering.failure(
                f"url/headers: cannot build the request: {exc}",
                type=ErrorType.HTTP_REQUEST_INVALID,
                non_retryable=True,
            ) from None

    async def _send(
        self, client: EgressClient, outgoing: httpx.Request, rendering: NodeRendering
    ) -> tuple[int, dict[str, str], bytes]:
        target = _target(outgoing)
        try:
            response = await client.send(outgoing, stream=True, follow_redirects=False)
        except EgressRefused as exc:
            raise rendering.failure(
                str(exc), type=ErrorType.EGRESS_REFUSED, non_retryable=True
            ) from None
        except httpx.UnsupportedProtocol as exc:
            raise rendering.failure(
                f"{target}: {exc}", type=ErrorType.HTTP_REQUEST_INVALID, non_retryable=True
            ) from None
        except httpx.TransportError as exc:
            raise rendering.failure(
                f"{target}: {type(exc).__name__}: {exc or 'no detail'}",
                type=ErrorType.HTTP_NETWORK_ERROR,
            ) from None
        try:
            raw = bytearray()
            async for chunk in response.aiter_bytes():
                raw.extend(chunk)
                if len(raw) > self.max_response_bytes:
                    raise rendering.failure(
                        f"{target}: response body exceeds {self.max_response_bytes} bytes",
                        type=ErrorType.HTTP_RESPONSE_TOO_LARGE,
                        non_retryable=True,
                    )
        except httpx.TransportError as exc:
            raise rendering.failure(
                f"{target}: {type(exc).__name__} while reading the response: {exc}",
                type=ErrorType.HTTP_NETWORK_ERROR,
            ) from None
        finally:
            await response.aclose()
        headers = {
            name: response.headers[name] for name in RESPONSE_HEADERS if name in response.headers
        }
        log.info("%s answered %s (%d bytes)", target, response.status_code, len(raw))
        return response.status_code, headers, bytes(raw)


def _authorization(rendering: NodeRendering, auth: HttpAuth) -> str:
    """The Authorization header of `auth`; what it derives from secrets is masked too."""
    fields = rendering.render("auth", auth.model_dump(exclude_none=True))
    if not all(isinstance(value, str) for value in fields.values()):
        raise rendering.failure(
            "auth: username, password and token must render to text",
            type=ErrorType.HTTP_REQUEST_INVALID,
            non_retryable=True,
        )
    if auth.scheme == "basic":
        pair = f"{fields['username']}:{fields['password']}"
        header = "Basic " + base64.b64encode(pair.encode()).decode()
    else:
        header = f"Bearer {fields['token']}"
    if rendering.credentials:
        rendering.guard(header, header.split(" ", 1)[1])
    return header


def _text_mapping(rendering: NodeRendering, path: str, raw: Any) -> dict[str, str]:
    rendered = rendering.render(path, raw)
    if not isinstance(rendered, dict):
        raise rendering.failure(
            f"{path}: must be an object of names to values",
            type=ErrorType.HTTP_REQUEST_INVALID,
            non_retryable=True,
        )
    return {
        str(name): value if isinstance(value, str) else json.dumps(value)
        for name, value in rendered.items()
        if value is not None
    }


def _timeout(client: httpx.AsyncClient, configured: str | None) -> httpx.Timeout:
    """The node's `timeout`, else the attempt's start-to-close budget, else the client's."""
    seconds = parse_duration(configured).total_seconds() if configured else None
    seconds = seconds or attempt_budget_seconds()
    if seconds is None:
        return client.timeout
    return httpx.Timeout(seconds, connect=min(seconds, 10.0))


def _parse_body(headers: dict[str, str], raw: bytes) -> Any:
    if not raw:
        return None
    text = raw.decode(_charset(headers.get("content-type", "")), errors="replace")
    if "json" in headers.get("content-type", "").lower():
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _charset(content_type: str) -> str:
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            try:
                return codecs.lookup(value.strip('"')).name
            except LookupError:
                break
    return "utf-8"


def _target(outgoing: httpx.Request) -> str:
    """Method and URL without credentials or query string, for error messages."""
    url = outgoing.url
    port = f":{url.port}" if url.port else ""
    return f"{outgoing.method} {url.scheme}://{url.host}{port}{url.path}"


def _status_failure(
    rendering: NodeRendering,
    outgoing: httpx.Request,
    status: int,
    headers: dict[str, str],
    body: Any,
) -> Exception:
    excerpt = body if isinstance(body, str) else json.dumps(body)
    excerpt = (excerpt or "")[:ERROR_BODY_CHARS]
    target = _target(outgoing)
    details = {"status": status, "headers": headers, "body": excerpt}
    if 400 <= status < 500:
        retryable = status in RETRYABLE_CLIENT_STATUSES
        return rendering.failure(
            f"{target} answered {status}",
            type=ErrorType.HTTP_CLIENT_ERROR,
            non_retryable=not retryable,
            details=details,
            next_retry_delay=_retry_after(headers) if retryable else None,
        )
    if status >= 500:
        return rendering.failure(
            f"{target} answered {status}",
            type=ErrorType.HTTP_SERVER_ERROR,
            details=details,
            next_retry_delay=_retry_after(headers),
        )
    return rendering.failure(
        f"{target} answered {status}, which the node does not expect",
        type=ErrorType.HTTP_UNEXPECTED_STATUS,
        non_retryable=True,
        details=details,
    )


def _retry_after(headers: dict[str, str]) -> timedelta | None:
    value = headers.get("retry-after", "").strip()
    if value.isdigit():
        return timedelta(seconds=min(int(value), 3600))
    return None
