"""Webhook deliveries: signature checks, inputs mapped from a delivery, the run it starts.

A delivery is signed with one of two schemes (the secret is the whole `whsec_…`
string, as UTF-8):

    v1 = hex(HMAC-SHA256(secret, f"{timestamp}.".encode() + raw_body))
    X-Auterity-Signature: t=<timestamp>,v1=<v1>

    v2 = hex(HMAC-SHA256(secret, f"{timestamp}.{idempotency_key}.".encode() + raw_body))
    X-Auterity-Signature: t=<timestamp>,v2=<v2>      with the Idempotency-Key header

`timestamp` is Unix seconds; a delivery more than `REPLAY_WINDOW` away from the
server's clock (older or in the future) is refused. Deduplication only ever uses
what the signature covers: a v2 delivery is deduplicated on its signed
Idempotency-Key (so a sender's retry, re-signed later, returns the first run), a v1
delivery on its signature (timestamp and body). Unsigned headers (`X-Request-Id`, a
v1 delivery's `Idempotency-Key`) never decide whether a delivery is new: a captured
delivery replayed with a different one inside the window starts nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.client import Client

from api.problems import NotFound, Unauthorized, Unprocessable
from api.schemas.hooks import SIGNATURE_HEADER, HookAccepted
from api.services import executions
from api.services import triggers as trigger_service
from auterity import audit, metrics
from auterity.graph import naming
from auterity.graph.expressions import Budget, ExpressionError, render_value
from auterity.graph.run import GraphRunInput
from auterity.models.tenancy import Tenant
from auterity.models.triggers import WebhookTrigger
from auterity.secrets import bind_keyring
from auterity.secrets import keyring as secrets_keyring
from auterity.security.principal import Actor
from auterity.security.scoping import set_tenant, set_webhook_lookup, unscoped
from auterity.settings import Settings

log = logging.getLogger("auterity.webhooks")

SCHEMES = ("v1", "v2")
REPLAY_WINDOW = timedelta(minutes=5)
HIDDEN_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


async def deliver(
    session: Session,
    settings: Settings,
    client: Client,
    trigger_id: str,
    read_body: Callable[[], Awaitable[bytes]],
    *,
    signature: str | None,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    idempotency_key: str | None,
    context: audit.AuditContext,
) -> HookAccepted:
    """Start a run from a signed delivery; a delivery seen before (the same signed
    idempotency key, or the same v1 signature) returns the execution it started, with
    `created: false`.

    The body is read (`read_body`) only once the trigger is known to exist."""
    # Database work (and rendering the mapping) runs in worker threads: a slow query or a
    # held lock never stalls the event loop, which serves every other request.
    trigger, tenant = await asyncio.to_thread(delivery_target, session, trigger_id)
    raw = await read_body()
    secret = trigger_service.trigger_secret(trigger_service.keyring(settings), trigger)
    key = verify(secret, signature, raw, datetime.now(UTC), idempotency_key)
    budget = Budget(seconds=settings.template_deadline_seconds)

    def prepare() -> tuple[executions.Runnable, GraphRunInput]:
        delivery = Delivery.of(parse_body(raw), headers, query)
        inputs = map_inputs(trigger.inputs, delivery, budget)
        version = executions.runnable(session, trigger.graph_id, trigger.version_id)
        run = executions.run_input(
            session, tenant.slug, version, inputs, trigger=naming.Trigger.WEBHOOK,
            blob_threshold_bytes=settings.blob_threshold_bytes,
            llm_task_queue=settings.llm_task_queue,
        )  # fmt: skip
        return version, run

    version, run = await asyncio.to_thread(prepare)
    started = await executions.start_execution(
        client, settings.task_queue, run, idempotency_key=f"webhook:{trigger.id}:{key}",
        memo={"started_by": f"webhook:{trigger.id}", "trigger_id": trigger.id},
    )  # fmt: skip
    if not started.created:
        return HookAccepted(execution_id=started.execution_id, created=False)
    bind_keyring(session, secrets_keyring(settings))
    await asyncio.to_thread(
        lambda: audit.record(
            session, Actor.system(f"webhook:{trigger.id}"), "execution.start", request=context,
            targets=[audit.Target("execution", started.execution_id),
                     audit.Target("graph", trigger.graph_id),
                     audit.Target("trigger", trigger.id, trigger.name)],
            details={"trigger": "webhook", "version_id": version.version_id,
                     "idempotency_key": key.startswith("key:")},
        )
    )  # fmt: skip
    log.info("webhook %s started %s", trigger.id, started.execution_id)
    return HookAccepted(execution_id=started.execution_id, created=True)


# --- finding the trigger ------------------------------------------------------------------


def delivery_target(session: Session, trigger_id: str) -> tuple[WebhookTrigger, Tenant]:
    """The enabled trigger a public delivery names, with the session scoped to its tenant.

    There is no principal yet: the trigger is found by id alone (on PostgreSQL,
    through the narrow `delivered_webhook` policy), then the session is scoped to
    its tenant. Unknown and disabled triggers are both 404.
    """
    set_webhook_lookup(session, trigger_id)
    query = select(WebhookTrigger).where(WebhookTrigger.id == trigger_id)
    trigger = session.scalar(unscoped(query))
    if trigger is None or not trigger.enabled:
        raise NotFound(f"trigger '{trigger_id}' not found or disabled")
    set_tenant(session, trigger.tenant_id)
    tenant = session.get(Tenant, trigger.tenant_id)
    if tenant is None:
        raise NotFound(f"trigger '{trigger_id}' not found or disabled")
    return trigger, tenant


# --- signatures ---------------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes, idempotency_key: str | None = None) -> str:
    """The hex HMAC-SHA256 under `secret` of `"{timestamp}." + body` (v1) or, with an
    idempotency key, of `"{timestamp}.{idempotency_key}." + body` (v2)."""
    signed = f"{timestamp}." if idempotency_key is None else f"{timestamp}.{idempotency_key}."
    return hmac.new(secret.encode(), signed.encode() + body, hashlib.sha256).hexdigest()


def signature_header(
    secret: str, timestamp: int, body: bytes, idempotency_key: str | None = None
) -> str:
    """The `X-Auterity-Signature` value a sender puts on a delivery: v2 when it sends an
    `Idempotency-Key` (which the signature then covers), else v1."""
    scheme = "v1" if idempotency_key is None else "v2"
    return f"t={timestamp},{scheme}={sign(secret, timestamp, body, idempotency_key)}"


@dataclass(frozen=True)
class Signature:
    timestamp: int
    scheme: str
    digests: tuple[str, ...]


def parse_signature(header: str | None) -> Signature:
    """`t=<unix seconds>,v1=<hex>[,v1=<hex>…]` or the same with v2; anything else (two
    schemes at once included) is a 401 saying what is wrong."""
    expected = "expected t=<unix seconds>,v1=<hex hmac> (or v2=<hex hmac>)"
    if not header:
        raise Unauthorized(f"send the {SIGNATURE_HEADER} header: {expected}")
    timestamp: int | None = None
    digests: dict[str, list[str]] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key in SCHEMES and value:
            digests.setdefault(key, []).append(value.lower())
    if timestamp is None or not digests:
        raise Unauthorized(f"{SIGNATURE_HEADER} is malformed: {expected}")
    if len(digests) > 1:
        # Accepting either would let a replay strip the v2 digest and be deduplicated as a
        # v1 delivery, under another key than the original's.
        raise Unauthorized(f"{SIGNATURE_HEADER} carries both v1 and v2: sign with one scheme")
    [(scheme, values)] = digests.items()
    return Signature(timestamp, scheme, tuple(values))


_KEY = re.compile(r"^[A-Za-z0-9_:\-]{1,200}$")


def verify(
    secret: str, header: str | None, body: bytes, now: datetime, idempotency_key: str | None
) -> str:
    """The delivery's deduplication key, from what its signature covers once checked (inside
    the replay window, matching in constant time): `key:<idempotency key>` for v2,
    `signature:<the server's v1 digest>` for v1 (never a sender's extra digest)."""
    try:
        signature = parse_signature(header)
    except Unauthorized:
        metrics.token_refused("webhook_signature", "invalid")
        raise
    skew = abs(now.timestamp() - signature.timestamp)
    if skew > REPLAY_WINDOW.total_seconds():
        metrics.token_refused("webhook_signature", "expired")
        raise Unauthorized(
            f"the signature timestamp is {int(skew)}s away from the server clock; "
            f"deliveries are accepted within {int(REPLAY_WINDOW.total_seconds())}s"
        )
    signed_key = None
    if signature.scheme == "v2":
        if not idempotency_key:
            metrics.token_refused("webhook_signature", "invalid")
            raise Unauthorized("a v2 signature covers the Idempotency-Key header: send it")
        if not _KEY.match(idempotency_key):
            raise Unprocessable(
                "Idempotency-Key: a v2 delivery's key is 1-200 letters, digits, '_', '-' or ':'",
                errors=[{"loc": ["header", "idempotency-key"], "msg": "not a v2 key"}],
            )
        signed_key = idempotency_key
    expected = sign(secret, signature.timestamp, body, signed_key)
    matched = False
    for digest in signature.digests:
        matched |= hmac.compare_digest(expected, digest)
    if not matched:
        metrics.token_refused("webhook_signature", "invalid")
        raise Unauthorized("the signature does not match the body and the trigger's secret")
    return f"key:{signed_key}" if signed_key is not None else f"signature:{expected}"


# --- mapping a delivery to inputs ---------------------------------------------------------


def parse_body(raw: bytes) -> Any:
    """The delivery's JSON body (None when empty); anything else is a 422 saying where."""
    if not raw.strip():
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Unprocessable(
            "the body is not UTF-8 JSON", errors=[{"loc": ["body"], "msg": "not UTF-8"}]
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        message = f"the body is not JSON: {error.msg} at line {error.lineno} column {error.colno}"
        raise Unprocessable(message, errors=[{"loc": ["body"], "msg": message}]) from None


@dataclass(frozen=True)
class Delivery:
    """What a mapping template sees: `body`, `headers` (lower-case names) and `query`."""

    body: Any
    headers: dict[str, str]
    query: dict[str, str]

    @classmethod
    def of(cls, body: Any, headers: Mapping[str, str], query: Mapping[str, str]) -> Delivery:
        visible = {
            name.lower(): value
            for name, value in headers.items()
            if name.lower() not in HIDDEN_HEADERS
        }
        return cls(body=body, headers=visible, query=dict(query))

    def scope(self) -> dict[str, Any]:
        return {"body": self.body, "headers": self.headers, "query": self.query}


def map_inputs(
    templates: Mapping[str, Any] | None, delivery: Delivery, budget: Budget
) -> dict[str, Any]:
    """The run's inputs: each template rendered over the delivery, or the body itself. The
    mapping is one render: its templates share `budget` (run it off the event loop)."""
    if templates is None:
        if delivery.body is None:
            return {}
        if not isinstance(delivery.body, dict):
            raise Unprocessable(
                "this trigger has no inputs mapping, so the body must be a JSON object "
                f"of the graph's inputs, not {type(delivery.body).__name__}",
                errors=[{"loc": ["body"], "msg": "expected a JSON object"}],
            )
        return delivery.body
    inputs: dict[str, Any] = {}
    scope = delivery.scope()
    for name, template in templates.items():
        try:
            inputs[name] = render_value(template, scope, budget)
        except ExpressionError as error:
            raise Unprocessable(
                f"input '{name}' could not be mapped from the delivery: {error}",
                errors=[{"loc": ["inputs", name], "msg": str(error)}],
            ) from None
    return inputs
