"""Webhook triggers: manage them (`/v1/triggers`) and receive signed deliveries (`/v1/hooks`)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.orm import Session

from api.auth import TriggersManager
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.schemas import Body
from api.services import executions
from api.services import graphs as graph_service
from api.services import triggers as service
from auterity import audit
from auterity.audit import Target
from auterity.graph import naming
from auterity.graph.model import Graph
from auterity.models.base import utcnow
from auterity.models.triggers import WebhookTrigger, new_trigger_id
from auterity.secrets import bind_keyring
from auterity.secrets import keyring as secrets_keyring
from auterity.security.principal import Actor
from auterity.settings import Settings

router = APIRouter(prefix="/v1", tags=["triggers"])
log = logging.getLogger("auterity.webhooks")

INPUTS_DESCRIPTION = (
    "Input name -> template over the delivery's `body`, `headers` (lower-case names) and "
    "`query`, e.g. `{{ body.issue.title }}`; omit it to use the JSON body as the inputs"
)
INPUTS_EXAMPLE: dict[str, Any] = {
    "ticket": "{{ body.issue.title }}",
    "event": "{{ headers['x-github-event'] }}",
}
HOOK_EXAMPLE: dict[str, Any] = {
    "action": "opened",
    "issue": {"number": 1347, "title": "Checkout fails with a 502", "body": "Since 09:12 UTC..."},
    "repository": {"full_name": "acme/shop"},
}


class TriggerCreate(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "github issues", "graph_id": "gr_3f9a1c2b7d4e", "inputs": INPUTS_EXAMPLE},
                {
                    "name": "form posts",
                    "graph_id": "gr_3f9a1c2b7d4e",
                    "version": "2",
                    "enabled": False,
                },
            ]
        }
    )

    name: str = Field(min_length=1, max_length=200, examples=["github issues"])
    graph_id: str = Field(min_length=1, max_length=40)
    version: str | None = Field(
        default=None,
        max_length=80,
        description="Pin a version (id or number); unset: the graph's current version at delivery",
    )
    inputs: dict[str, Any] | None = Field(
        default=None, description=INPUTS_DESCRIPTION, examples=[INPUTS_EXAMPLE]
    )
    enabled: bool = True


class TriggerUpdate(Body):
    """Only the fields sent change; `version: null` unpins, `inputs: null` drops the mapping."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"enabled": False},
                {"version": None, "inputs": {"ticket": "{{ body.issue.body }}"}},
                {"name": "github issues (prod)", "graph_id": "gr_8b2e4d6f1a3c", "version": "1"},
            ]
        }
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    graph_id: str | None = Field(default=None, min_length=1, max_length=40)
    version: str | None = Field(default=None, max_length=80)
    inputs: dict[str, Any] | None = Field(default=None, description=INPUTS_DESCRIPTION)
    enabled: bool | None = None

    @field_validator("name", "graph_id", "enabled")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may not be null (leave it out to keep it)")
        return value


class TriggerRead(BaseModel):
    id: str
    name: str
    graph_id: str
    version_id: str | None = Field(description="The pinned version; None runs the current one")
    inputs: dict[str, Any] | None
    enabled: bool
    url: str = Field(description="Where to POST signed deliveries")
    secret_rotated_at: datetime
    created_by: str | None
    created_at: datetime
    updated_at: datetime


class TriggerCreated(TriggerRead):
    secret: str = Field(
        description=f"The signing secret for {service.SIGNATURE_HEADER}; shown this once only"
    )


class TriggerList(BaseModel):
    items: list[TriggerRead]


class HookAccepted(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "execution_id": "acme:gr_3f9a1c2b7d4e:k2c26b46b68ffc68ff99b453c1d304134",
                    "created": True,
                }
            ]
        }
    )

    execution_id: str
    created: bool = Field(description="False when this delivery was seen before (same execution)")


def _read(trigger: WebhookTrigger, settings: Settings) -> TriggerRead:
    return TriggerRead(
        id=trigger.id, name=trigger.name, graph_id=trigger.graph_id,
        version_id=trigger.version_id, inputs=trigger.inputs, enabled=trigger.enabled,
        url=service.hook_url(settings, trigger.id), secret_rotated_at=trigger.secret_rotated_at,
        created_by=trigger.created_by, created_at=trigger.created_at,
        updated_at=trigger.updated_at,
    )  # fmt: skip


def _check_target(
    session: Session, graph_id: str, version: str | None, inputs: dict[str, Any] | None
) -> str | None:
    """Resolve the graph (404) and version, check the mapping (422); the pinned version id."""
    resolved = graph_service.get_version(session, graph_id, version)
    if inputs is not None:
        service.check_input_templates(inputs)
        service.check_mapping_covers(Graph.model_validate(resolved.definition).inputs, inputs)
    return resolved.version_id if version is not None else None


@router.post("/triggers", status_code=201, response_model=TriggerCreated)
def create_trigger(
    body: TriggerCreate,
    session: SessionDep,
    settings: SettingsDep,
    principal: TriggersManager,
    request: Request,
) -> TriggerCreated:
    """Create a webhook trigger; the response carries its URL and signing secret (shown once)."""
    version_id = _check_target(session, body.graph_id, body.version, body.inputs)
    trigger = WebhookTrigger(
        id=new_trigger_id(), tenant_id=principal.tenant_id, name=body.name,
        graph_id=body.graph_id, version_id=version_id, inputs=body.inputs,
        enabled=body.enabled, created_by=principal.name,
    )  # fmt: skip
    secret = service.new_secret()
    service.seal_secret(service.keyring(settings), trigger, secret)
    session.add(trigger)
    session.flush()
    audit.record(
        session, principal, "trigger.create", request=request,
        targets=[Target("trigger", trigger.id, trigger.name), Target("graph", trigger.graph_id)],
        details={"version_id": version_id, "mapped_inputs": sorted(body.inputs or {}),
                 "enabled": trigger.enabled},
    )  # fmt: skip
    return TriggerCreated(**_read(trigger, settings).model_dump(), secret=secret)


@router.get("/triggers", response_model=TriggerList)
def list_triggers(
    session: SessionDep,
    settings: SettingsDep,
    _principal: TriggersManager,
    graph_id: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> TriggerList:
    """The tenant's webhook triggers, newest first (never their secrets)."""
    rows = service.list_triggers(session, graph_id=graph_id, limit=limit, offset=offset)
    return TriggerList(items=[_read(row, settings) for row in rows])


@router.get("/triggers/{trigger_id}", response_model=TriggerRead)
def read_trigger(
    trigger_id: str, session: SessionDep, settings: SettingsDep, _principal: TriggersManager
) -> TriggerRead:
    """One webhook trigger (never its secret)."""
    return _read(service.get_trigger(session, trigger_id), settings)


@router.patch("/triggers/{trigger_id}", response_model=TriggerRead)
def update_trigger(
    trigger_id: str,
    body: TriggerUpdate,
    session: SessionDep,
    settings: SettingsDep,
    principal: TriggersManager,
    request: Request,
) -> TriggerRead:
    """Rename, retarget, re-pin, remap, enable or disable a trigger; its secret is kept."""
    sent = body.model_fields_set
    trigger = service.get_trigger(session, trigger_id)
    graph_id = body.graph_id or trigger.graph_id
    inputs = body.inputs if "inputs" in sent else trigger.inputs
    if "version" in sent:
        version = body.version
    elif graph_id != trigger.graph_id:
        version = None  # a pinned version belongs to the old graph
    else:
        version = trigger.version_id
    trigger.version_id = _check_target(session, graph_id, version, inputs)
    trigger.graph_id, trigger.inputs = graph_id, inputs
    if body.name is not None:
        trigger.name = body.name
    if body.enabled is not None:
        trigger.enabled = body.enabled
    trigger.updated_at = utcnow()
    session.flush()
    audit.record(
        session, principal, "trigger.update", request=request,
        targets=[Target("trigger", trigger.id, trigger.name)],
        details={"changed": sorted(sent), "enabled": trigger.enabled},
    )  # fmt: skip
    return _read(trigger, settings)


@router.delete("/triggers/{trigger_id}", status_code=204)
def delete_trigger(
    trigger_id: str, session: SessionDep, principal: TriggersManager, request: Request
) -> Response:
    """Delete a trigger; its URL answers 404 from now on."""
    trigger = service.get_trigger(session, trigger_id)
    session.delete(trigger)
    session.flush()
    audit.record(
        session, principal, "trigger.delete", request=request,
        targets=[Target("trigger", trigger.id, trigger.name)],
    )  # fmt: skip
    return Response(status_code=204)


@router.post("/triggers/{trigger_id}/rotate-secret", response_model=TriggerCreated)
def rotate_trigger_secret(
    trigger_id: str,
    session: SessionDep,
    settings: SettingsDep,
    principal: TriggersManager,
    request: Request,
) -> TriggerCreated:
    """Issue a new signing secret (shown once); the old one stops working at once."""
    trigger = service.get_trigger(session, trigger_id)
    secret = service.new_secret()
    service.seal_secret(service.keyring(settings), trigger, secret)
    trigger.updated_at = utcnow()
    session.flush()
    audit.record(
        session, principal, "trigger.rotate_secret", request=request,
        targets=[Target("trigger", trigger.id, trigger.name)],
    )  # fmt: skip
    return TriggerCreated(**_read(trigger, settings).model_dump(), secret=secret)


@router.post(
    "/hooks/{trigger_id}",
    status_code=202,
    response_model=HookAccepted,
    tags=["webhooks"],
    responses={
        200: {"description": "A delivery seen before: the execution it started"},
        401: {"description": "Missing, malformed, stale or wrong signature"},
        404: {"description": "Unknown or disabled trigger"},
        422: {"description": "Body not JSON, an input that cannot be mapped, or invalid inputs"},
    },
    openapi_extra={
        "requestBody": {
            "required": False,
            "content": {"application/json": {"schema": {}, "example": HOOK_EXAMPLE}},
        }
    },
)
async def deliver_webhook(
    trigger_id: str,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
    x_auterity_signature: Annotated[
        str | None,
        Header(description="`t=<unix seconds>,v1=<hex HMAC-SHA256 of '<t>.<raw body>'>`"),
    ] = None,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    x_request_id: Annotated[str | None, Header()] = None,
) -> HookAccepted:
    """Start a run from a signed delivery (public: the signature is the credential).

    Sign each delivery with the trigger's secret (the whole `whsec_…` string):
    `X-Auterity-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + raw body>`.
    Deliveries more than 5 minutes from the server's clock are refused (401). The
    body must be JSON; the trigger's `inputs` templates map it (with the headers
    and query) to the graph's inputs, or the body is the inputs. A retried
    delivery — same `Idempotency-Key` or `X-Request-Id`, or byte-identical and
    signed at the same second — returns the execution it started, with 200.
    """
    trigger, tenant = service.delivery_target(session, trigger_id)
    raw = await request.body()
    secret = service.trigger_secret(service.keyring(settings), trigger)
    signature = service.verify(secret, x_auterity_signature, raw, datetime.now(UTC))
    delivery = service.Delivery.of(service.parse_body(raw), request.headers, request.query_params)
    inputs = service.map_inputs(trigger.inputs, delivery)
    version = executions.runnable(session, trigger.graph_id, trigger.version_id)
    run = executions.run_input(
        session, tenant.slug, version, inputs, trigger=naming.Trigger.WEBHOOK
    )
    delivery_key = idempotency_key or x_request_id or f"signature:{signature}"
    started = await executions.start_execution(
        client, settings.task_queue, run, idempotency_key=f"webhook:{trigger.id}:{delivery_key}",
        memo={"started_by": f"webhook:{trigger.id}", "trigger_id": trigger.id},
    )  # fmt: skip
    if not started.created:
        response.status_code = 200
        return HookAccepted(execution_id=started.execution_id, created=False)
    bind_keyring(session, secrets_keyring(settings))
    audit.record(
        session, Actor.system(f"webhook:{trigger.id}"), "execution.start", request=request,
        targets=[Target("execution", started.execution_id), Target("graph", trigger.graph_id),
                 Target("trigger", trigger.id, trigger.name)],
        details={"trigger": "webhook", "version_id": version.version_id,
                 "idempotency_key": bool(idempotency_key or x_request_id)},
    )  # fmt: skip
    log.info("webhook %s started %s", trigger.id, started.execution_id)
    return HookAccepted(execution_id=started.execution_id, created=True)
