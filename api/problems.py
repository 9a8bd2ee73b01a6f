"""Errors as RFC 9457 problem+json, mapped to HTTP once."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"


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
    @app.exception_handler(Problem)
    async def _problem(_request: Request, exc: Problem) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
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

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(
            exc.status_code,
            _TITLES.get(exc.status_code, "Error"),
            str(exc.detail),
            headers=getattr(exc, "headers", None),
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
