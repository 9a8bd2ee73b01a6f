"""The audit trail: append-only, hash-chained per tenant, redacted, verifiable, retained.

- `append`: what an entry says (`record`, `entry`, `Target`, `AuditContext`) and
  linking entries onto a tenant's chain (`append`);
- `chain`: hashing and verifying the chain (`verify`, `document`, `entries`);
- `writer`: `Writer`, group commit of entries of concurrent requests;
- `retention`: deleting expired entries while the chain keeps verifying.

Redaction (one mask, one rule) is `auterity.redaction`, shared with logs and node
outputs.
"""

from auterity.audit.append import (
    AuditContext,
    EntryFields,
    Outcome,
    Target,
    append,
    entry,
    record,
)
from auterity.audit.chain import (
    CHAIN_PURPOSE,
    GENESIS,
    Checkpoint,
    Verification,
    canonical_json,
    chain_keys,
    document,
    entries,
    entry_hash,
    head,
    use_keys,
    use_settings,
    verify,
)
from auterity.audit.retention import (
    DEFAULT_RETENTION_DAYS,
    RETENTION_SETTING,
    ChainBroken,
    purge_expired,
    retention_days,
)
from auterity.audit.writer import Writer
from auterity.redaction import MASK as REDACTED
from auterity.redaction import redact

__all__ = [
    "CHAIN_PURPOSE",
    "Checkpoint",
    "chain_keys",
    "use_keys",
    "use_settings",
    "DEFAULT_RETENTION_DAYS",
    "GENESIS",
    "REDACTED",
    "RETENTION_SETTING",
    "AuditContext",
    "ChainBroken",
    "EntryFields",
    "Outcome",
    "Target",
    "Verification",
    "Writer",
    "append",
    "canonical_json",
    "document",
    "entries",
    "entry",
    "entry_hash",
    "head",
    "purge_expired",
    "record",
    "redact",
    "retention_days",
    "verify",
]
