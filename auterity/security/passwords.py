"""Password hashing with argon2 (pwdlib), and a constant-cost check for unknown accounts."""

from __future__ import annotations

import functools
import secrets

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

MIN_LENGTH = 12

_hasher = PasswordHash((Argon2Hasher(),))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """True when `password` matches; an account without a hash costs the same and fails."""
    if not password_hash:
        _hasher.verify(password, _dummy_hash())
        return False
    try:
        return _hasher.verify(password, password_hash)
    except Exception:  # noqa: BLE001 - a malformed stored hash is a failed login, not a 500
        return False


def generate_password() -> str:
    """A random password for a bootstrap or invited account, shown once."""
    return secrets.token_urlsafe(18)


def weakness(password: str) -> str | None:
    """Why `password` is too weak to set, or None."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters"
    return None


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))
