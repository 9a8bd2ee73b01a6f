"""What every SSO sign-in shares, whatever the protocol.

- requests in flight (`SsoRequest`): saved when the browser is sent to the IdP, spent
  once when it comes back, expired after `REQUEST_TTL`;
- the browser binding: a signed, short-lived cookie whose digest the request and the
  hand-off code carry, so an answer or a code only works in the browser that asked;
- relay paths: only relative paths on this site (`safe_return_to`);
- SAML assertion ids remembered until they expire (`remember_assertion`);
- the hand-off: a one-time code in the redirect back to the builder, traded for the
  token pair by `POST /v1/auth/sso/exchange`; tokens never travel in a URL;
- refusals (`SsoRefused`) and their audit entries, in the tenant's trail.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from auterity import audit
from auterity.db import transaction
from auterity.models.sso import SsoHandoff, SsoRequest, SsoSeenAssertion
from auterity.secrets import bind_keyring, keyring, session_keyring
from auterity.security import tokens
from auterity.security.clock import as_utc
from auterity.security.crypto import KeyRing
from auterity.security.principal import Actor
from auterity.security.scoping import set_lookup, set_tenant, unscoped
from auterity.settings import Settings

REQUEST_TTL = timedelta(minutes=10)
HANDOFF_TTL = timedelta(seconds=60)
BROWSER_COOKIE = "auterity_sso"
BROWSER_COOKIE_TTL = timedelta(minutes=15)
CLOCK_SKEW = timedelta(minutes=3)
HANDOFF_PREFIX = "ash_"
MAX_RETURN_TO = 512
# A path on this site: one leading slash (never `//host` or `/\host`), no scheme, no
# backslashes, no control characters, spaces or fragment (the code is appended as a query).
_RETURN_TO = re.compile(r"^/(?![/\\])[A-Za-z0-9\-._~!$&'()*+,;=:@/%?]*$")


class SsoRefused(Exception):
    """A sign-in that must not succeed.

    `reason` is a stable word for the audit trail and tests; `detail` says more, for the
    trail and the logs; `message` is what the person sees (never the detail of a
    signature check, which would help an attacker); `status` is the HTTP status.
    """

    def __init__(
        self,
        reason: str,
        detail: str = "",
        *,
        status: int = 401,
        message: str = "Single sign-on failed. Start again from the sign-in page.",
        subject: str | None = None,
    ) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.status = status
        self.message = message
        self.subject = subject


def safe_return_to(value: str | None) -> str:
    """`value` if it is a relative path on this site, "/" if empty; else SsoRefused."""
    if value is None or value == "":
        return "/"
    if len(value) > MAX_RETURN_TO or not _RETURN_TO.match(value):
        raise SsoRefused(
            "relay_state_offsite",
            f"{value[:100]!r} is not a relative path on this site",
            status=400,
            message="The address to return to after signing in must be a path on this site.",
        )
    return value


# --- the browser binding --------------------------------------------------------------------


def _cookie_key(settings: Settings) -> KeyRing:
    return KeyRing.from_settings(settings, "sso-browser")


def new_browser_cookie(settings: Settings, now: datetime) -> tuple[str, str]:
    """(cookie value, browser id): a random id, its expiry, signed with the current key."""
    browser = secrets.token_urlsafe(24)
    body = _b64(json.dumps({"b": browser, "exp": int((now + BROWSER_COOKIE_TTL).timestamp())}))
    ring = _cookie_key(settings)
    mac = hmac.new(ring.current, body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{ring.current_id}.{mac}", browser


def browser_of(settings: Settings, cookie: str | None, now: datetime) -> str | None:
    """The browser id of a genuine, unexpired cookie, else None."""
    if not cookie or cookie.count(".") != 2:
        return None
    body, kid, mac = cookie.split(".")
    key = _cookie_key(settings).get(kid)
    if key is None:
        return None
    if not hmac.compare_digest(mac, hmac.new(key, body.encode(), hashlib.sha256).hexdigest()):
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except ValueError:
        return None
    if not isinstance(claims, dict) or int(claims.get("exp", 0)) < now.timestamp():
        return None
    browser = claims.get("b")
    return browser if isinstance(browser, str) and browser else None


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def digest(value: str) -> str:
    return tokens.digest(value)


# --- requests in flight ---------------------------------------------------------------------


def save_request(
    session: Session,
    request_id: str,
    protocol: str,
    *,
    return_to: str,
    browser: str | None,
    now: datetime,
    nonce: str | None = None,
    verifier: str | None = None,
) -> SsoRequest:
    session.execute(  # the tenant's answered or abandoned sign-ins are of no use any more
        delete(SsoRequest)
        .where(SsoRequest.expires_at < now)
        .execution_options(synchronize_session=False)
    )
    row = SsoRequest(
        id=request_id,
        protocol=protocol,
        return_to=return_to,
        browser_hash=digest(browser) if browser else None,
        nonce=nonce,
        expires_at=now + REQUEST_TTL,
    )
    if verifier is not None:
        row.verifier_key_id, row.verifier_ciphertext = session_keyring(session).encrypt(
            verifier, f"sso-request/{request_id}"
        )
    session.add(row)
    session.flush()
    return row


def claim_request(
    session: Session, request_id: str, protocol: str, now: datetime, *, reason: str
) -> SsoRequest:
    """Spend the request `request_id` of the session's tenant, once; SsoRefused(reason) if it
    is unknown, of another protocol, already spent or expired."""
    row = session.scalars(select(SsoRequest).where(SsoRequest.id == request_id)).one_or_none()
    if row is None or row.protocol != protocol:
        raise SsoRefused(reason, "no sign-in of this tenant is waiting for this answer")
    if not _spend(session, SsoRequest, row.id, now):
        raise SsoRefused(reason, "the sign-in this answers was already completed")
    if as_utc(row.expires_at) <= now:
        raise SsoRefused(reason, "the sign-in this answers has expired")
    return row


def _spend(session: Session, model: type[SsoRequest] | type[SsoHandoff], row_id: str,
           now: datetime) -> bool:  # fmt: skip
    """Mark a one-time row used, if nobody did first (one statement: concurrent uses race
    on it and exactly one wins)."""
    claimed = session.execute(
        update(model)
        .where(model.id == row_id, model.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return claimed.rowcount == 1  # type: ignore[attr-defined,no-any-return]


def request_verifier(session: Session, row: SsoRequest) -> str | None:
    if row.verifier_key_id is None or row.verifier_ciphertext is None:
        return None
    return session_keyring(session).decrypt(
        row.verifier_key_id, row.verifier_ciphertext, f"sso-request/{row.id}"
    )


def remember_assertion(
    session: Session, tenant_id: str, assertion_id: str, until: datetime, now: datetime
) -> None:
    """Remember an accepted assertion id until `until` (plus clock skew); a second one is a
    replay (SsoRefused). Expired ids of the tenant are forgotten on the way."""
    session.execute(
        delete(SsoSeenAssertion)
        .where(SsoSeenAssertion.expires_at < now)
        .execution_options(synchronize_session=False)
    )
    seen = session.scalars(
        select(SsoSeenAssertion).where(SsoSeenAssertion.assertion_id == assertion_id)
    ).one_or_none()
    if seen is not None:
        raise SsoRefused("replayed_assertion", f"assertion {assertion_id[:80]} was already used")
    try:
        with session.begin_nested():
            session.add(
                SsoSeenAssertion(
                    tenant_id=tenant_id, assertion_id=assertion_id, expires_at=until + CLOCK_SKEW
                )
            )
    except IntegrityError:
        raise SsoRefused(
            "replayed_assertion", f"assertion {assertion_id[:80]} was already used"
        ) from None


# --- the hand-off ---------------------------------------------------------------------------


def create_handoff(
    session: Session,
    *,
    user_id: str,
    method: str,
    browser: str,
    details: dict[str, Any],
    now: datetime,
) -> str:
    """A one-time code for the browser `browser`; only its sha256 is stored."""
    code = HANDOFF_PREFIX + secrets.token_urlsafe(32)
    session.execute(
        delete(SsoHandoff)
        .where(SsoHandoff.expires_at < now)
        .execution_options(synchronize_session=False)
    )
    session.add(
        SsoHandoff(
            id=digest(code),
            user_id=user_id,
            method=method,
            browser_hash=digest(browser),
            details=details,
            expires_at=now + HANDOFF_TTL,
        )
    )
    session.flush()
    return code


def redeem_handoff(session: Session, code: str, browser: str | None, now: datetime) -> SsoHandoff:
    """Spend a hand-off code presented with the browser's cookie; scopes `session` to its
    tenant. SsoRefused if unknown (tenant-less: its `subject` is None), spent, expired or
    presented by another browser."""
    code_hash = digest(code)
    set_lookup(session, credential=code_hash)
    row = session.scalars(
        unscoped(select(SsoHandoff).where(SsoHandoff.id == code_hash))
    ).one_or_none()
    if row is None:
        raise SsoRefused("unknown_code", "no such sign-in code")
    set_tenant(session, row.tenant_id)
    if not _spend(session, SsoHandoff, row.id, now):
        raise SsoRefused("code_reused", "the sign-in code was already used")
    if as_utc(row.expires_at) <= now:
        raise SsoRefused("code_expired", "the sign-in code has expired")
    if browser is None or not hmac.compare_digest(digest(browser), row.browser_hash):
        raise SsoRefused("code_other_browser", "the sign-in code was sent by another browser")
    return row


# --- audit ----------------------------------------------------------------------------------


def audit_refusal(
    sessions: sessionmaker[Session],
    settings: Settings,
    tenant_id: str,
    refused: SsoRefused,
    *,
    method: str,
    request: Any,
    action: str = "auth.login",
) -> None:
    """Record a refused sign-in in the tenant's trail (its own transaction: the attempt's
    own was rolled back)."""
    details: dict[str, Any] = {"method": method, "reason": refused.reason}
    if refused.detail:
        details["detail"] = refused.detail[:500]
    with transaction(sessions) as session:
        set_tenant(session, tenant_id)
        bind_keyring(session, keyring(settings))
        audit.record(
            session,
            Actor(type="anonymous", id=None, name=refused.subject),
            action,
            details=details,
            request=request,
            outcome=audit.Outcome.FAILURE,
        )
