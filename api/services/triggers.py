"""Webhook triggers: sealed signing secrets, signature checks, and inputs mapped from a delivery.

A delivery is signed like this (the secret is the whole `whsec_…` string, as UTF-8):

    signature = hex(HMAC-SHA256(secret, f"{timestamp}.".encode() + raw_body))
    X-Auterity-Signature: t=<timestamp>,v1=<signature>

`timestamp` is Unix seconds; a delivery more than `REPLAY_WINDOW` away from the
server's clock (older or in the future) is refused, and an identical delivery
inside the window maps onto the same execution, so a replay starts nothing new.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.problems import NotFound, Unauthorized, Unprocessable
from auterity.graph.expressions import ExpressionError, referenced_names, render_value
from auterity.models.base import utcnow
from auterity.models.tenancy import Tenant
from auterity.models.triggers import WebhookTrigger
from auterity.security.crypto import DecryptionError, KeyRing
from auterity.security.scoping import set_tenant, set_webhook_lookup, unscoped
from auterity.settings import Settings

SIGNATURE_HEADER = "X-Auterity-Signature"
SIGNATURE_SCHEME = "v1"
REPLAY_WINDOW = timedelta(minutes=5)
SECRET_PREFIX = "whsec_"
TEMPLATE_ROOTS = ("body", "headers", "query")
HIDDEN_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
HOOK_PATH = "/v1/hooks/{trigger_id}"


# --- the signing secret -------------------------------------------------------------------


def keyring(settings: Settings) -> KeyRing:
    """The key ring that seals webhook signing secrets (its own HKDF purpose)."""
    return KeyRing.from_settings(settings, "webhooks")


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _aad(trigger: WebhookTrigger) -> str:
    return f"webhook/{trigger.tenant_id}/{trigger.id}"


def seal_secret(ring: KeyRing, trigger: WebhookTrigger, secret: str) -> None:
    """Store `secret` on the trigger, encrypted under the current key (tenant and id as AAD)."""
    trigger.secret_key_id, trigger.secret_ciphertext = ring.encrypt(secret, _aad(trigger))
    trigger.secret_rotated_at = utcnow()


def open_secret(ring: KeyRing, trigger: WebhookTrigger) -> str:
    return ring.decrypt(trigger.secret_key_id, trigger.secret_ciphertext, _aad(trigger))


def hook_url(settings: Settings, trigger_id: str) -> str:
    """Where the trigger receives deliveries; absolute when `AUTERITY_PUBLIC_URL` is set."""
    path = HOOK_PATH.format(trigger_id=trigger_id)
    return settings.public_url.rstrip("/") + path if settings.public_url else path


# --- signatures ---------------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of `"{timestamp}." + body` under `secret`."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Auterity-Signature` value a sender puts on a delivery."""
    return f"t={timestamp},{SIGNATURE_SCHEME}={sign(secret, timestamp, body)}"


@dataclass(frozen=True)
class Signature:
    timestamp: int
    digests: tuple[str, ...]


def parse_signature(header: str | None) -> Signature:
    """`t=<unix seconds>,v1=<hex>[,v1=<hex>…]`; anything else is a 401 saying what is wrong."""
    if not header:
        raise Unauthorized(f"send the {SIGNATURE_HEADER} header: t=<unix seconds>,v1=<hex hmac>")
    timestamp: int | None = None
    digests: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == SIGNATURE_SCHEME and value:
            digests.append(value.lower())
    if timestamp is None or not digests:
        raise Unauthorized(
            f"{SIGNATURE_HEADER} is malformed: expected t=<unix seconds>,v1=<hex hmac>"
        )
    return Signature(timestamp, tuple(digests))


def verify(secret: str, header: str | None, body: bytes, now: datetime) -> str:
    """The delivery's signature, checked: inside the replay window and matching in constant
    time. Returns the canonical signature (what the server computed), never a sender's extra."""
    signature = parse_signature(header)
    skew = abs(now.timestamp() - signature.timestamp)
    if skew > REPLAY_WINDOW.total_seconds():
        raise Unauthorized(
            f"the signature timestamp is {int(skew)}s away from the server clock; "
            f"deliveries are accepted within {int(REPLAY_WINDOW.total_seconds())}s"
        )
    expected = sign(secret, signature.timestamp, body)
    matched = False
    for digest in signature.digests:
        matched |= hmac.compare_digest(expected, digest)
    if not matched:
        raise Unauthorized("the signature does not match the body and the trigger's secret")
    return expected


# --- finding a trigger --------------------------------------------------------------------


def get_trigger(session: Session, trigger_id: str) -> WebhookTrigger:
    """One of the session tenant's triggers, or 404."""
    trigger = session.get(WebhookTrigger, trigger_id)
    if trigger is None:
        raise NotFound(f"trigger '{trigger_id}' not found")
    return trigger


def list_triggers(
    session: Session, *, graph_id: str | None, limit: int, offset: int
) -> list[WebhookTrigger]:
    query = select(WebhookTrigger)
    if graph_id:
        query = query.where(WebhookTrigger.graph_id == graph_id)
    query = query.order_by(WebhookTrigger.created_at.desc(), WebhookTrigger.id)
    return list(session.scalars(query.limit(limit).offset(offset)))


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


def trigger_secret(ring: KeyRing, trigger: WebhookTrigger) -> str:
    """The trigger's signing secret; a secret sealed by a dropped key refuses every delivery."""
    try:
        return open_secret(ring, trigger)
    except DecryptionError:
        raise Unauthorized(
            "the trigger's signing secret cannot be opened with the server's keys: rotate it"
        ) from None


# --- mapping a delivery to inputs ---------------------------------------------------------


def _strings(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))


def check_input_templates(templates: Mapping[str, Any]) -> None:
    """422 naming every input whose template does not parse or reads outside body/headers/query."""
    errors: list[dict[str, Any]] = []
    for name, template in templates.items():
        for path, text in _strings(template):
            loc = ["body", "inputs", name, *path]
            try:
                references = referenced_names(text)
            except ExpressionError as error:
                errors.append({"loc": loc, "msg": str(error)})
                continue
            for root in sorted({reference.root for reference in references}):
                if root not in TEMPLATE_ROOTS:
                    errors.append(
                        {
                            "loc": loc,
                            "msg": f"unknown name {root!r}: a webhook mapping reads "
                            + ", ".join(TEMPLATE_ROOTS),
                        }
                    )
    if errors:
        raise Unprocessable(f"input '{errors[0]['loc'][2]}': {errors[0]['msg']}", errors=errors)


def check_mapping_covers(schema: Mapping[str, Any], templates: Mapping[str, Any]) -> None:
    """422 when the mapping leaves out a required input or names one the graph refuses."""
    required = [name for name in schema.get("required", []) if name not in templates]
    errors = [
        {"loc": ["body", "inputs", name], "msg": "required by the graph's input schema, not mapped"}
        for name in required
    ]
    properties = schema.get("properties")
    if isinstance(properties, Mapping) and schema.get("additionalProperties") is False:
        errors += [
            {"loc": ["body", "inputs", name], "msg": "the graph has no such input"}
            for name in templates
            if name not in properties
        ]
    if errors:
        raise Unprocessable(f"input '{errors[0]['loc'][2]}': {errors[0]['msg']}", errors=errors)


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


def map_inputs(templates: Mapping[str, Any] | None, delivery: Delivery) -> dict[str, Any]:
    """The run's inputs: each template rendered over the delivery, or the body itself."""
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
            inputs[name] = render_value(template, scope)
        except ExpressionError as error:
            raise Unprocessable(
                f"input '{name}' could not be mapped from the delivery: {error}",
                errors=[{"loc": ["inputs", name], "msg": str(error)}],
            ) from None
    return inputs
