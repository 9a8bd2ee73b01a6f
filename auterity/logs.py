"""Server logs: JSON lines an aggregator can index, or text for a person at a terminal.

`AUTERITY_LOG_FORMAT=json` (the default in production) writes one object per line
with `time`, `level`, `logger`, `message`, the `tenant`, `execution_id` and
`node_id` of what is being done, and the `trace_id` / `span_id` of the span in
progress; `text` (the default elsewhere) writes the same facts on one readable line.

The context comes from context variables: the API sets the tenant once it knows
the caller, an activity sets tenant, execution and node from its input
(`auterity.telemetry.RunContext`). Nothing secret reaches a line: credentials in
URLs are masked (`redact_query`), and so is every secret value an activity
resolved (`mask_in_logs`), wherever it appears in the message or its traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any, Literal

from opentelemetry import trace

from auterity.redaction import SecretValues, redact_query

LogFormat = Literal["json", "text"]
CONTEXT_FIELDS = ("tenant", "execution_id", "node_id")

_context: ContextVar[dict[str, str]] = ContextVar("auterity_log_context", default={})  # noqa: B039
_masked: ContextVar[SecretValues] = ContextVar("auterity_log_masked", default=SecretValues())  # noqa: B039


@contextmanager
def context(**fields: str | None) -> Iterator[None]:
    """Adds `fields` (those not None) to every line logged inside the block."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v}})
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: str | None) -> None:
    """Adds `fields` to every line logged from here to the end of the current task or request
    (each request and each activity runs in a context of its own)."""
    _context.set({**_context.get(), **{k: v for k, v in fields.items() if v}})


def mask_in_logs(values: Iterable[str]) -> None:
    """Masks these secret values in every line logged from here to the end of the current
    task (an activity, from the moment it resolved them)."""
    current = _masked.get()
    _masked.set(SecretValues([*current.exact, *values]))


def current_context() -> dict[str, str]:
    """The context fields and the trace ids a line logged now would carry."""
    fields = dict(_context.get())
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        fields["trace_id"] = format(span.trace_id, "032x")
        fields["span_id"] = format(span.span_id, "016x")
    return fields


class ContextFilter(logging.Filter):
    """Stamps each record with the context and trace ids of where it was logged, and
    masks credentials and resolved secret values in its message and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.auterity_context = current_context()
        masked = _masked.get()
        message = redact_query(record.getMessage())
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        exc_text = redact_query(record.exc_text) if record.exc_text else None
        if masked:
            message = masked.text(message)
            exc_text = masked.text(exc_text) if exc_text else None
        record.msg, record.args = message, None
        record.exc_info, record.exc_text = None, exc_text
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "auterity_context", {}),
        }
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        context = getattr(record, "auterity_context", {})
        if context:
            text += " [" + " ".join(f"{k}={v}" for k, v in context.items()) + "]"
        return text


def handler(log_format: LogFormat, stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing `log_format` lines to `stream` (stderr), context and masking included."""
    made = logging.StreamHandler(stream or sys.stderr)
    made.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    made.addFilter(ContextFilter())
    return made


def configure(log_format: LogFormat, level: str) -> None:
    """Routes every logger (uvicorn's and Temporal's included) to one handler on the root."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler(log_format))
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
