"""Keep credentials out of server logs: query strings may carry tokens.

Browsers cannot set headers on a WebSocket, so `?access_token=` is accepted
there, and resume links carry `?token=`; uvicorn would log both in clear.
"""

from __future__ import annotations

import logging

from auterity.redaction import redact_query


class RedactCredentials(logging.Filter):
    """Rewrites a record's arguments so no credential in a URL reaches a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_query(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        elif isinstance(record.msg, str):
            record.msg = redact_query(record.msg)
        return True


def install_log_redaction() -> None:
    """Attach the filter to uvicorn's loggers (idempotent)."""
    for name in ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactCredentials) for f in logger.filters):
            logger.addFilter(RedactCredentials())
