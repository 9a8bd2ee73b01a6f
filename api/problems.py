"""Errors as RFC 9457 problem+json, mapped to HTTP once."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.service import RPCError, RPCStatusCode

from auterity.errors import DependencyUnavailable

PROBLEM_JSON = "application/problem+json"
BUSY_RETRY_SECONDS = 1
"""Retry-After when SQLite's one writer was busy: a turn comes round within moments."""
DOWN_RETRY_SECONDS = 5
"""Retry-After when the database or Temporal cannot be reached."""
TEMPORAL_DOWN = frozenset(
    {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.RESOURCE_EXHAUSTED}
)

log = logging.getLogger("auterity.api")


class Problem(Exception):
    """An error the API reports to its caller as problem+json."""

    status = 400
    title = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers
        if status is not None:
            self.status = status


class NotFound(Problem):
    status = 404
    title = "Not found"


class Conflict(Problem):
    status = 409
    title = "Conflict"


class Unauthorized(Problem):
    status = 401
    title = "Unauthorized"


class Forbidden(Problem):
    status = 403
    title = "Forbidden"


class Unprocessable(Problem):
    status = 422
    title = "Validation failed"


class TooManyRequests(Problem):
    """Send `headers={"Retry-After": "<seconds>"}` with it."""

    status = 429
    title = "Too many requests"


class ServiceUnavailable(Problem):
    status = 503
    title = "Service unavailable"


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://auterity.dev/problems/{status}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _loc(loc: tuple[Any, ...] | list[Any]) -> list[Any]:
    return list(loc)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_middleware(UnhandledErrors)

    @app.exception_handler(Problem)
    async def _problem(_request: Request, exc: Problem) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
        if exc.status == 503:
            headers["Retry-After"] = str(DOWN_RETRY_SECONDS)
        headers |= exc.headers or {}
        return problem_response(
            exc.status, exc.title, exc.detail, errors=exc.errors, headers=headers or None
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": _loc(err["loc"]), "msg": err["msg"]} for err in exc.errors()]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(part) for part in first["loc"])
        return problem_response(422, "Validation failed", f"{where}: {first['msg']}", errors=errors)

    @app.exception_handler(DataError)
    async def _unstorable(_request: Request, exc: DataError) -> JSONResponse:
        # A value the database cannot take (a NUL character, text longer than its column,
        # a number out of range) that validation let through: the caller's input, not a
        # server fault. The driver's first line says which.
        reason = str(exc.orig).splitlines()[0] if exc.orig is not None else "invalid value"
        return problem_response(
            422,
            "Validation failed",
            f"a value cannot be stored: {reason}",
            errors=[{"loc": [], "msg": reason}],
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeout)
    async def _database_down(request: Request, exc: Exception) -> JSONResponse:
        # SQLite's write lock not had in time, PostgreSQL refusing connections or gone
        # mid-request, the pool exhausted: the service is unavailable, not broken. The
        # driver's words stay in the log (they name hosts); the caller learns when to retry.
        if "database is locked" in str(exc) or "database is busy" in str(exc):
            log.warning("%s %s: the database is busy", request.method, request.url.path)
            return problem_response(
                503, "Service unavailable",
                "the database is busy: SQLite takes one write at a time; retry shortly",
                headers={"Retry-After": str(BUSY_RETRY_SECONDS)},
            )  # fmt: skip
        log.error("%s %s: database unavailable: %s", request.method, request.url.path, exc)
        return _unavailable("the database is unavailable; retry shortly")

    @app.exception_handler(DBAPIError)
    async def _database_error(request: Request, exc: DBAPIError) -> JSONResponse:
        if exc.connection_invalidated:  # the connection dropped mid-request
            log.error("%s %s: database connection lost: %s", request.method, request.url.path, exc)
            return _unavailable("the database connection was lost; retry shortly")
        return _unexpected(request.method, request.url.path, request.scope, exc)

    @app.exception_handler(DependencyUnavailable)
    async def _dependency_down(request: Request, exc: DependencyUnavailable) -> JSONResponse:
        log.error("%s %s: %s", request.method, request.url.path, exc)
        return _unavailable(str(exc))

    @app.exception_handler(RPCError)
    async def _temporal_error(request: Request, exc: RPCError) -> JSONResponse:
        if exc.status in TEMPORAL_DOWN:
            log.error("%s %s: Temporal unavailable: %s", request.method, request.url.path, exc)
            return _unavailable("Temporal is unavailable; retry shortly")
        return _unexpected(request.method, request.url.path, request.scope, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(
            exc.status_code,
            _TITLES.get(exc.status_code, "Error"),
            str(exc.detail),
            headers=getattr(exc, "headers", None),
        )


class UnhandledErrors:
    """Any exception no handler took becomes a 500 problem, and the connection stays
    usable: Starlette's own last resort answers, then re-raises to the server, which
    closes the connection under the client's next request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            if started:  # part of a response is out: nothing sound can follow it
                raise
            response = _unexpected(scope.get("method", ""), scope.get("path", ""), scope, exc)
            await response(scope, receive, send)


def _unexpected(method: str, path: str, scope: Scope, exc: BaseException) -> JSONResponse:
    """A bug: a problem body the client can show; the traceback goes to the log with the
    request id, and nothing of the error to the caller."""
    request_id = scope.get("state", {}).get("request_id", "")
    log.error(
        "%s %s failed (request %s)", method, path, request_id,
        exc_info=(type(exc), exc, exc.__traceback__),
    )  # fmt: skip
    detail = "an unexpected error occurred; it was logged"
    return problem_response(
        500,
        "Internal server error",
        f"{detail} as request {request_id}" if request_id else detail,
    )


def _unavailable(detail: str) -> JSONResponse:
    return problem_response(
        503, "Service unavailable", detail, headers={"Retry-After": str(DOWN_RETRY_SECONDS)}
    )


_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Validation failed",
    429: "Too many requests",
    503: "Service unavailable",
}
