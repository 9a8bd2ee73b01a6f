"""What the routes do apart from HTTP, one module per resource: queries, rules, calls to
Temporal, and each change's audit record, written with the change.

Services raise `api.problems` errors (a 404, a 409 with its message) and take an
`audit.AuditContext` rather than the request. They return rows (or a small object
around them, like `users.Member`) for the route to validate its `XxxRead` from, or
the response schema itself when no row holds the answer (a run in Temporal, a token
pair).
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.orm import Session

from api.problems import NotFound

Row = TypeVar("Row")


def one_or_404(session: Session, model: type[Row], key: Any, what: str) -> Row:
    """The session tenant's `model` row with primary key `key`, else 404 "<what> not found".

    The session is scoped to the caller's tenant, so another tenant's row is a 404 too."""
    row = session.get(model, key)
    if row is None:
        raise NotFound(f"{what} not found")
    return row
