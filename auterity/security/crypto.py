"""Keys derived from the settings' secret key, and AES-GCM for values at rest.

Every derived key has a key id (a fingerprint, not the key), stored next to each
ciphertext and put in each token's header, so the current key encrypts and signs
while previous keys (`AUTERITY_SECRET_KEYS_PREVIOUS`) still decrypt and verify.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from auterity.settings import Settings

NONCE_BYTES = 12


class DecryptionError(Exception):
    """A ciphertext could not be decrypted: unknown key id, wrong key or tampered bytes."""


@functools.lru_cache(maxsize=32)
def derive_key(master: str, purpose: str) -> bytes:
    """A 32-byte key for one purpose (`"jwt"`, `"secrets"`), independent of the others."""
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"auterity",
        info=f"auterity/{purpose}/v1".encode(),
    ).derive(master.encode())


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"auterity-kid:" + key).hexdigest()[:16]


@dataclass(frozen=True)
class KeyRing:
    """The current key and the previous ones, by key id, for one purpose."""

    current_id: str
    keys: dict[str, bytes]

    @classmethod
    def from_settings(cls, settings: Settings, purpose: str) -> KeyRing:
        masters = [settings.secret_key, *settings.secret_keys_previous]
        keys: dict[str, bytes] = {}
        for master in masters:
            key = derive_key(master.get_secret_value(), purpose)
            keys.setdefault(key_id(key), key)
        current = key_id(derive_key(settings.secret_key.get_secret_value(), purpose))
        return cls(current_id=current, keys=keys)

    @property
    def current(self) -> bytes:
        return self.keys[self.current_id]

    def get(self, kid: str) -> bytes | None:
        return self.keys.get(kid)

    def encrypt(self, plaintext: str, aad: str) -> tuple[str, bytes]:
        """(key id, nonce + ciphertext) of `plaintext`, bound to `aad` (tenant and name)."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.current).encrypt(nonce, plaintext.encode(), aad.encode())
        return self.current_id, nonce + sealed

    def decrypt(self, kid: str, blob: bytes, aad: str) -> str:
        key = self.keys.get(kid)
        if key is None:
            raise DecryptionError(f"no key with id {kid} (was it dropped from the previous keys?)")
        try:
            plain = AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad.encode())
        except InvalidTag:
            raise DecryptionError("ciphertext does not match its key or context") from None
        return plain.decode()
