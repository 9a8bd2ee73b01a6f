"""Credentials in URLs never reach the server's logs."""

from __future__ import annotations

import logging

from api.logs import RedactCredentials, install_log_redaction
from auterity.redaction import MASK


def test_access_log_arguments_lose_their_tokens(caplog) -> None:
    install_log_redaction()
    logger = logging.getLogger("uvicorn.access")
    propagate, logger.propagate = logger.propagate, True
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        logger.info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET",
            "/v1/executions/x/events?access_token=eyJsecret.part&limit=5", "1.1", 200,
        )  # fmt: skip
    logger.propagate = propagate
    assert "eyJsecret" not in caplog.text
    assert "limit=5" in caplog.text  # only the credential goes


def test_websocket_and_resume_links_are_redacted() -> None:
    record = logging.LogRecord(
        "uvicorn.error", logging.INFO, __file__, 1, '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:1", "/v1/tasks/resume?token=abc.def.ghi"), None,
    )  # fmt: skip
    RedactCredentials().filter(record)
    assert "abc.def" not in record.getMessage()
    assert f"token={MASK}" in record.getMessage()
