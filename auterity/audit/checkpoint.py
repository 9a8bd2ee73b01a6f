"""Signed checkpoints of a tenant's chain head, to keep outside the database.

A checkpoint says "the entry at `seq` of this tenant's chain has hash `hash`", signed
with Ed25519 under a key derived from AUTERITY_SECRET_KEY (purpose
`audit-checkpoint`, its id in `key_id`, the public key alongside so anyone can check
the signature). Verifying the chain against checkpoints kept elsewhere detects what
the chain alone cannot: its end removed (truncation) or the whole chain rewritten.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from auterity.audit.chain import Checkpoint, canonical_json
from auterity.security.crypto import KeyRing
from auterity.settings import Settings

PURPOSE = "audit-checkpoint"
_CONTEXT = b"auterity-audit-checkpoint:"


class CheckpointRefused(ValueError):
    """A checkpoint whose signature, key or tenant does not hold; the message says which."""


@dataclass(frozen=True)
class SignedCheckpoint:
    tenant_id: str
    seq: int
    hash: str
    issued_at: str
    key_id: str
    public_key: str
    signature: str

    def signed_part(self) -> bytes:
        body = {key: value for key, value in asdict(self).items() if key != "signature"}
        body.pop("public_key")
        return _CONTEXT + canonical_json(body).encode()


def keys(settings: Settings) -> KeyRing:
    return KeyRing.from_settings(settings, PURPOSE)


def _private(seed: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key(seed: bytes) -> str:
    raw = _private(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return raw.hex()


def sign(ring: KeyRing, tenant_id: str, seq: int, hash: str, now: datetime) -> SignedCheckpoint:
    unsigned = SignedCheckpoint(
        tenant_id=tenant_id, seq=seq, hash=hash, issued_at=now.isoformat(),
        key_id=ring.current_id, public_key=public_key(ring.current), signature="",
    )  # fmt: skip
    signature = _private(ring.current).sign(unsigned.signed_part()).hex()
    return SignedCheckpoint(**{**asdict(unsigned), "signature": signature})


def check(ring: KeyRing, checkpoint: SignedCheckpoint, tenant_id: str) -> Checkpoint:
    """The checkpoint's (seq, hash), once its tenant, key and signature hold."""
    if checkpoint.tenant_id != tenant_id:
        raise CheckpointRefused("the checkpoint is of another tenant")
    seed = ring.get(checkpoint.key_id)
    if seed is None:
        raise CheckpointRefused(
            f"the checkpoint is signed with key id {checkpoint.key_id}, which this server "
            "does not hold (is its secret key in AUTERITY_SECRET_KEYS_PREVIOUS?)"
        )
    try:
        verifier = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key(seed)))
        verifier.verify(bytes.fromhex(checkpoint.signature), checkpoint.signed_part())
    except (InvalidSignature, ValueError):
        raise CheckpointRefused("the checkpoint's signature does not match its content") from None
    return Checkpoint(seq=checkpoint.seq, hash=checkpoint.hash)
