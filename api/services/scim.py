"""SCIM 2.0: each request authenticated by the tenant's SCIM token, run in one transaction.

A refused write is audited in the tenant's trail (`scim.request`, outcome failure,
with the status and what was wrong) in a transaction of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from api.state import AppState
from auterity import audit
from auterity.db import transaction
from auterity.models.sso import SsoConfig
from auterity.secrets import bind_keyring, keyring
from auterity.security.principal import Actor
from auterity.security.scoping import current_tenant, set_tenant
from auterity.security.sso import config, scim

T = TypeVar("T")
Work = Callable[[Session, scim.Caller, SsoConfig | None, datetime], T]


def run(state: AppState, credential: str | None, base: str, work: Work[T], *,
        write: bool, request: Any) -> T:  # fmt: skip
    """`work` for the caller behind `credential`; ScimError when refused (writes audited)."""
    tenant_id: str | None = None
    token_id: str | None = None
    try:
        with transaction(state.sessions) as session:
            bind_keyring(session, keyring(state.settings))
            try:
                caller = scim.authenticate(session, credential, base, datetime.now(UTC))
            finally:
                tenant_id = current_tenant(session)
            token_id = caller.token_id
            return work(session, caller, config.load(session), datetime.now(UTC))
    except scim.ScimError as refused:
        if tenant_id and (write or refused.status == 401):
            _audit_refusal(state, tenant_id, token_id, refused, request)
        raise


def _audit_refusal(state: AppState, tenant_id: str, token_id: str | None,
                   refused: scim.ScimError, request: Any) -> None:  # fmt: skip
    with transaction(state.sessions) as session:
        set_tenant(session, tenant_id)
        bind_keyring(session, keyring(state.settings))
        audit.record(
            session,
            Actor(type="system", id=token_id, name="scim"),
            "scim.request",
            details={
                "method": getattr(request, "method", None),
                "path": str(getattr(getattr(request, "url", None), "path", ""))[:300],
                "status": refused.status,
                "reason": refused.scim_type
                or ("unauthorized" if refused.status == 401 else "refused"),
                "detail": refused.detail[:300],
            },
            request=request,
            outcome=(
                audit.Outcome.DENIED if refused.status in {401, 403} else audit.Outcome.FAILURE
            ),
        )
