"""Login rate limiting, kept in the database so every API replica shares the counts.

A login is refused (429) while an account has `ACCOUNT_LIMIT` failures within
`WINDOW`, or an address has `ADDRESS_LIMIT`. Accounts are counted whether they
exist or not (by sha256 of the normalized email), so the limit reveals nothing.
A success clears the account's failures. The address is the socket peer; behind
a proxy, run uvicorn with `--proxy-headers --forwarded-allow-ips` so it is the
client's.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from auterity.models.identity import LoginAttempt
from auterity.security.clock import as_utc
from auterity.security.scoping import set_lookup

WINDOW = timedelta(minutes=15)
ACCOUNT_LIMIT = 5
ADDRESS_LIMIT = 50


def account_key(email: str) -> str:
    return "account:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()


def address_key(address: str) -> str:
    return f"address:{address}"[:80]


def retry_after(session: Session, email: str, address: str, now: datetime) -> int | None:
    """Seconds until a login may be tried again, or None when it may be tried now."""
    since = now - WINDOW
    _open(session, email, address)
    waits: list[int] = []
    for key, limit in ((account_key(email), ACCOUNT_LIMIT), (address_key(address), ADDRESS_LIMIT)):
        count, oldest = session.execute(
            select(func.count(), func.min(LoginAttempt.attempted_at)).where(
                LoginAttempt.key == key, LoginAttempt.attempted_at > since
            )
        ).one()
        if count >= limit and oldest is not None:
            waits.append(max(1, int((as_utc(oldest) + WINDOW - now).total_seconds()) + 1))
    return max(waits) if waits else None


def record_failure(session: Session, email: str, address: str, now: datetime) -> None:
    _open(session, email, address)
    session.add_all(
        [
            LoginAttempt(key=account_key(email), attempted_at=now),
            LoginAttempt(key=address_key(address), attempted_at=now),
        ]
    )
    session.execute(delete(LoginAttempt).where(LoginAttempt.attempted_at < now - WINDOW))


def clear_account(session: Session, email: str) -> None:
    set_lookup(session, login_keys=[account_key(email)])
    session.execute(delete(LoginAttempt).where(LoginAttempt.key == account_key(email)))


def _open(session: Session, email: str, address: str) -> None:
    """On PostgreSQL the app sees only the attempts of the keys it counts (migration 0009_accounts)."""
    set_lookup(session, login_keys=[account_key(email), address_key(address)])
