"""Webhook triggers: create, read, list, change, delete, rotate the signing secret.

Deliveries to a trigger's URL are `api.routes.hooks`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.auth import TriggersManager
from api.deps import SessionDep, SettingsDep
from api.schemas import Offset
from api.schemas.triggers import (
    TriggerCreate,
    TriggerCreated,
    TriggerList,
    TriggerRead,
    TriggerUpdate,
)
from api.services import triggers as service
from api.services.triggers import Webhook
from auterity.audit import AuditContext

router = APIRouter(prefix="/triggers", tags=["triggers"])


@router.post("", status_code=201, response_model=TriggerCreated)
def create_trigger(
    body: TriggerCreate,
    session: SessionDep,
    settings: SettingsDep,
    principal: TriggersManager,
    request: Request,
) -> TriggerCreated:
    """Create a webhook trigger; the response carries its URL and signing secret (shown once)."""
    webhook = service.create_trigger(session, settings, principal, body, AuditContext.of(request))
    return TriggerCreated.model_validate(webhook, from_attributes=True)


@router.get("", response_model=TriggerList)
def list_triggers(
    session: SessionDep,
    settings: SettingsDep,
    _principal: TriggersManager,
    graph_id: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> TriggerList:
    """The tenant's webhook triggers, newest first (never their secrets)."""
    rows = service.list_triggers(session, graph_id=graph_id, limit=limit, offset=offset)
    return TriggerList(
        items=[
            TriggerRead.model_validate(Webhook.of(row, settings), from_attributes=True)
            for row in rows
        ]
    )


@router.get("/{trigger_id}", response_model=TriggerRead)
def read_trigger(
    trigger_id: str, session: SessionDep, settings: SettingsDep, _principal: TriggersManager
) -> TriggerRead:
    """One webhook trigger (never its secret)."""
    webhook = Webhook.of(service.get_trigger(session, trigger_id), settings)
    return TriggerRead.model_validate(webhook, from_attributes=True)


@router.patch("/{trigger_id}", response_model=TriggerRead)
def update_trigger(
    trigger_id: str,
    body: TriggerUpdate,
    session: SessionDep,
    settings: SettingsDep,
    principal: TriggersManager,
    request: Request,
) -> TriggerRead:
    """Rename, retarget, re-pin, remap, enable or disable a trigger; its secret is kept."""
    trigger = service.update_trigger(session, principal, trigger_id, body, AuditContext.of(request))
    return TriggerRead.model_validate(Webhook.of(trigger, settings), from_attributes=True)


@router.delete("/{trigger_id}", status_code=204)
def delete_trigger(
    trigger_id: str, session: SessionDep, principal: TriggersManager, request: Request
) -> Response:
    """Delete a trigger; its URL answers 404 from now on."""
    service.delete_trigger(session, principal, trigger_id, AuditContext.of(request))
    return Response(status_code=204)


@router.post("/{trigger_id}/rotate-secret", response_model=TriggerCreated)
def rotate_trigger_secret(
    trigger_id: str,
    session: SessionDep,
    settings: SettingsDep,
    principal: TriggersManager,
    request: Request,
) -> TriggerCreated:
    """Issue a new signing secret (shown once); the old one stops working at once."""
    webhook = service.rotate_secret(
        session, settings, principal, trigger_id, AuditContext.of(request)
    )
    return TriggerCreated.model_validate(webhook, from_attributes=True)
