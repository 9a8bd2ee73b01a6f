"""Keys derived per purpose, AES-GCM bound to tenant and name, rotation by key id."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from auterity.security.crypto import DecryptionError, KeyRing, derive_key, key_id
from auterity.settings import load_settings

OLD = "old-secret-key-0123456789abcdefghijkl"
NEW = "new-secret-key-0123456789abcdefghijkl"


def test_purposes_get_independent_keys() -> None:
    assert derive_key(OLD, "jwt") != derive_key(OLD, "secrets")
    assert derive_key(OLD, "jwt") != derive_key(NEW, "jwt")
    assert key_id(derive_key(OLD, "jwt")) != key_id(derive_key(OLD, "secrets"))
    assert OLD not in key_id(derive_key(OLD, "jwt"))


def test_ciphertext_opens_only_with_its_context() -> None:
    ring = KeyRing.from_settings(load_settings(secret_key=OLD), "secrets")
    kid, blob = ring.encrypt("hunter2-value", "tenant-a/token")
    assert b"hunter2" not in blob
    assert ring.decrypt(kid, blob, "tenant-a/token") == "hunter2-value"
    with pytest.raises(DecryptionError):
        ring.decrypt(kid, blob, "tenant-b/token")  # moved to another tenant
    with pytest.raises(DecryptionError):
        ring.decrypt(kid, blob[:-1] + bytes([blob[-1] ^ 1]), "tenant-a/token")
    assert ring.encrypt("same", "x")[1] != ring.encrypt("same", "x")[1]  # fresh nonce


def test_rotation_opens_old_values_and_seals_with_the_new_key() -> None:
    old = KeyRing.from_settings(load_settings(secret_key=OLD), "secrets")
    kid, blob = old.encrypt("value", "t/n")
    rotating = KeyRing.from_settings(
        load_settings(secret_key=NEW, secret_keys_previous=[SecretStr(OLD)]), "secrets"
    )
    assert rotating.decrypt(kid, blob, "t/n") == "value"
    new_kid, _ = rotating.encrypt("value", "t/n")
    assert new_kid != kid and new_kid == rotating.current_id
    retired = KeyRing.from_settings(load_settings(secret_key=NEW), "secrets")
    with pytest.raises(DecryptionError, match="no key with id"):
        retired.decrypt(kid, blob, "t/n")
