"""Webhook triggers: a graph (and optionally a pinned version) with a sealed signing secret
and an optional mapping from a delivery to the graph's inputs, checked when saved.

How deliveries are signed, checked and turned into runs is `api.services.hooks`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.problems import Unauthorized, Unprocessable
from api.schemas.hooks import hook_url
from api.schemas.triggers import TriggerCreate, TriggerUpdate
from api.services import graphs as graph_service
from api.services import one_or_404
from auterity import audit
from auterity.graph.expressions import ExpressionError, referenced_names
from auterity.graph.model import Graph
from auterity.models.base import utcnow
from auterity.models.triggers import WebhookTrigger, new_trigger_id
from auterity.security.crypto import DecryptionError, KeyRing
from auterity.security.principal import Principal
from auterity.settings import Settings

SECRET_PREFIX = "whsec_"
TEMPLATE_ROOTS = ("body", "headers", "query")


@dataclass(frozen=True)
class Webhook:
    """A trigger as its sender sees it: the row, where deliveries go, and its signing secret
    when it was just issued (it is shown once)."""

    trigger: WebhookTrigger
    url: str
    secret: str | None = None

    @classmethod
    def of(cls, trigger: WebhookTrigger, settings: Settings, secret: str | None = None) -> Webhook:
        return cls(trigger, hook_url(settings, trigger.id), secret)


# --- the tenant's triggers ----------------------------------------------------------------


def get_trigger(session: Session, trigger_id: str) -> WebhookTrigger:
    """One of the session tenant's triggers, or 404."""
    return one_or_404(session, WebhookTrigger, trigger_id, f"trigger '{trigger_id}'")


def list_triggers(
    session: Session, *, graph_id: str | None, limit: int, offset: int
) -> list[WebhookTrigger]:
    query = select(WebhookTrigger)
    if graph_id:
        query = query.where(WebhookTrigger.graph_id == graph_id)
    query = query.order_by(WebhookTrigger.created_at.desc(), WebhookTrigger.id)
    return list(session.scalars(query.limit(limit).offset(offset)))


def create_trigger(
    session: Session,
    settings: Settings,
    principal: Principal,
    body: TriggerCreate,
    context: audit.AuditContext,
) -> Webhook:
    """A webhook trigger with a new signing secret (returned this once)."""
    version_id = check_target(session, body.graph_id, body.version, body.inputs)
    trigger = WebhookTrigger(
        id=new_trigger_id(), tenant_id=principal.tenant_id, name=body.name,
        graph_id=body.graph_id, version_id=version_id, inputs=body.inputs,
        enabled=body.enabled, created_by=principal.name,
    )  # fmt: skip
    secret = new_secret()
    seal_secret(keyring(settings), trigger, secret)
    session.add(trigger)
    session.flush()
    audit.record(
        session, principal, "trigger.create", request=context,
        targets=[audit.Target("trigger", trigger.id, trigger.name),
                 audit.Target("graph", trigger.graph_id)],
        details={"version_id": version_id, "mapped_inputs": sorted(body.inputs or {}),
                 "enabled": trigger.enabled},
    )  # fmt: skip
    return Webhook.of(trigger, settings, secret)


def update_trigger(
    session: Session,
    principal: Principal,
    trigger_id: str,
    body: TriggerUpdate,
    context: audit.AuditContext,
) -> WebhookTrigger:
    """Rename, retarget, re-pin, remap, enable or disable a trigger; its secret is kept."""
    sent = body.model_fields_set
    trigger = get_trigger(session, trigger_id)
    graph_id = body.graph_id or trigger.graph_id
    inputs = body.inputs if "inputs" in sent else trigger.inputs
    if "version" in sent:
        version = body.version
    elif graph_id != trigger.graph_id:
        version = None  # a pinned version belongs to the old graph
    else:
        version = trigger.version_id
    trigger.version_id = check_target(session, graph_id, version, inputs)
    trigger.graph_id, trigger.inputs = graph_id, inputs
    if body.name is not None:
        trigger.name = body.name
    if body.enabled is not None:
        trigger.enabled = body.enabled
    trigger.updated_at = utcnow()
    session.flush()
    audit.record(
        session, principal, "trigger.update", request=context,
        targets=[audit.Target("trigger", trigger.id, trigger.name)],
        details={"changed": sorted(sent), "enabled": trigger.enabled},
    )  # fmt: skip
    return trigger


def delete_trigger(
    session: Session, principal: Principal, trigger_id: str, context: audit.AuditContext
) -> None:
    """Delete a trigger; its URL answers 404 from now on."""
    trigger = get_trigger(session, trigger_id)
    session.delete(trigger)
    session.flush()
    audit.record(
        session, principal, "trigger.delete", request=context,
        targets=[audit.Target("trigger", trigger.id, trigger.name)],
    )  # fmt: skip


def rotate_secret(
    session: Session,
    settings: Settings,
    principal: Principal,
    trigger_id: str,
    context: audit.AuditContext,
) -> Webhook:
    """Issue a new signing secret (returned this once); the old one stops working at once."""
    trigger = get_trigger(session, trigger_id)
    secret = new_secret()
    seal_secret(keyring(settings), trigger, secret)
    trigger.updated_at = utcnow()
    session.flush()
    audit.record(
        session, principal, "trigger.rotate_secret", request=context,
        targets=[audit.Target("trigger", trigger.id, trigger.name)],
    )  # fmt: skip
    return Webhook.of(trigger, settings, secret)


def check_target(
    session: Session, graph_id: str, version: str | None, inputs: dict[str, Any] | None
) -> str | None:
    """Resolve the graph (404) and version, check the mapping (422); the pinned version id."""
    resolved = graph_service.get_version(session, graph_id, version)
    if inputs is not None:
        check_input_templates(inputs)
        check_mapping_covers(Graph.model_validate(resolved.definition).inputs, inputs)
    return resolved.version_id if version is not None else None


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


def trigger_secret(ring: KeyRing, trigger: WebhookTrigger) -> str:
    """The trigger's signing secret; a secret sealed by a dropped key refuses every delivery."""
    try:
        return open_secret(ring, trigger)
    except DecryptionError:
        raise Unauthorized(
            "the trigger's signing secret cannot be opened with the server's keys: rotate it"
        ) from None


# --- checking a mapping ------------------------------------------------------------------


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
