"""One way to keep credentials out of what the platform stores, logs and returns.

One mask, `MASK`, everywhere: audit entries, server logs and node outputs. One rule
for secret values: a value is masked wherever it appears inside a string when it
is at least `MIN_SUBSTRING` characters long, and only where a whole string equals
it when shorter (masking every "ab" would garble the text and reveal little).
Structured records that people read later (audit entries) also mask whatever is
stored under a key that names a credential (`password`, `X-Api-Key`,
`client_secret`, …); node outputs keep their keys, as they are the user's data.
Credentials in query strings (`?access_token=…`) are masked in logged URLs.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "[REDACTED]"
MIN_SUBSTRING = 4
"""Secret values shorter than this are masked only where a whole string equals them."""

_SENSITIVE_SUFFIX = re.compile(
    r"(?:^|[_\-\s.])(?:password|passwd|passphrase|secret|token|api[_-]?key|apikey|authorization|"
    r"cookie|credentials?|private[_-]?key|signature)$",
    re.IGNORECASE,
)
_HARMLESS_SUFFIXES = ("_name", "_names", "_id", "_ids", "_count")
_SENSITIVE_QUERY = re.compile(
    r"(?i)([?&](?:access_token|token|refresh_token|api_key|key|signature|secret)=)[^&\s\"]*"
)


class SecretValues:
    """The secret values to mask, prepared once (longest first, so a value that contains
    another is masked whole)."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        unique = {value for value in values if value}
        self.exact = frozenset(unique)
        self.inside = sorted(
            (value for value in unique if len(value) >= MIN_SUBSTRING), key=len, reverse=True
        )

    def __bool__(self) -> bool:
        return bool(self.exact)

    def text(self, text: str) -> str:
        if text in self.exact:
            return MASK
        for value in self.inside:
            text = text.replace(value, MASK)
        return text


def encoded_forms(value: str) -> set[str]:
    """A secret value as it may come back from a server that echoes a request: as is,
    URL-encoded (path, query, form) and in base64 (`Basic` credentials)."""
    forms = {value, quote(value, safe=""), quote(value), quote_plus(value)}
    forms.add(base64.b64encode(value.encode()).decode())
    return {form for form in forms if form}


def redact(
    value: Any, secret_values: Iterable[str] | SecretValues = (), *, keys: bool = True
) -> Any:
    """`value` with every secret value masked in any string inside it (dictionary keys
    included) and, unless `keys` is False, whatever sits under a key naming a credential."""
    values = (
        secret_values if isinstance(secret_values, SecretValues) else SecretValues(secret_values)
    )
    if not values and not keys:
        return value
    return _redact(value, values if values else None, keys)


def _redact(value: Any, values: SecretValues | None, keys: bool) -> Any:
    if isinstance(value, str):
        return values.text(value) if values is not None else value
    if isinstance(value, dict):
        return {
            _redact(key, values, False): (
                MASK
                if keys and sensitive_key(key) and item not in (None, "")
                else _redact(item, values, keys)
            )
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redact(item, values, keys) for item in value]
    return value


def sensitive_key(key: object) -> bool:
    """Whether a key names a credential (`password`, `X-Api-Key`, `client_secret`…) rather
    than something about one (`secret_name`, `token_count`)."""
    if not isinstance(key, str):
        return False
    # The few keys records use are asked of every record: remembered, if short (keys can
    # come from a tenant's data, so neither how many nor how long is up to us).
    return _known_name(key) if len(key) <= _REMEMBERED_KEY_CHARS else _sensitive_name(key)


_REMEMBERED_KEY_CHARS = 64


def _sensitive_name(key: str) -> bool:
    lowered = key.lower()
    if _SENSITIVE_SUFFIX.search(lowered):
        return True
    return ("secret" in lowered or "password" in lowered) and not lowered.endswith(
        _HARMLESS_SUFFIXES
    )


_known_name = functools.lru_cache(maxsize=4096)(_sensitive_name)


def redact_query(text: str) -> str:
    """`text` with the values of credential-bearing query parameters masked."""
    return _SENSITIVE_QUERY.sub(rf"\1{MASK}", text)
