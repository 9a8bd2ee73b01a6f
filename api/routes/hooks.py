"""Signed webhook deliveries (public: the signature is the credential) that start runs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response

from api.deps import SessionDep, SettingsDep, TemporalDep
from api.schemas.hooks import HOOK_EXAMPLE, HookAccepted
from api.services import hooks as service
from auterity.audit import AuditContext

router = APIRouter(prefix="/hooks", tags=["triggers", "webhooks"])


@router.post(
    "/{trigger_id}",
    status_code=202,
    response_model=HookAccepted,
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
        Header(
            description="`t=<unix seconds>,v1=<hex HMAC-SHA256 of '<t>.<raw body>'>`, or "
            "`t=<unix seconds>,v2=<hex HMAC-SHA256 of '<t>.<Idempotency-Key>.<raw body>'>`"
        ),
    ] = None,
    idempotency_key: Annotated[
        str | None, Header(max_length=200, description="Covered by a v2 signature")
    ] = None,
) -> HookAccepted:
    """Start a run from a signed delivery (public: the signature is the credential).

    Sign each delivery with the trigger's secret (the whole `whsec_…` string), either
    `X-Auterity-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + raw body>`
    or, with an `Idempotency-Key` header, `t=<unix seconds>,v2=<hex HMAC-SHA256 of
    "<t>.<Idempotency-Key>." + raw body>`. Deliveries more than 5 minutes from the
    server's clock are refused (401). The body must be JSON; the trigger's `inputs`
    templates map it (with the headers and query) to the graph's inputs, or the body
    is the inputs. A delivery seen before returns the execution it started, with 200:
    under v2, any delivery with the same (signed) `Idempotency-Key`, so a retry signed
    anew is deduplicated; under v1, the same signature (timestamp and body). Unsigned
    headers such as `X-Request-Id` never make a delivery new.
    """
    accepted = await service.deliver(
        session, settings, client, trigger_id, request.body,
        signature=x_auterity_signature, headers=request.headers, query=request.query_params,
        idempotency_key=idempotency_key, context=AuditContext.of(request),
    )  # fmt: skip
    if not accepted.created:
        response.status_code = 200
    return accepted
