"""FastAPI dependencies as annotated aliases: SessionDep, TemporalDep, SettingsDep, PublicBaseDep."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session
from starlette.requests import HTTPConnection
from starlette.types import Scope
from temporalio.client import Client

from api.problems import ServiceUnavailable
from api.state import AppState
from auterity.errors import DependencyUnavailable
from auterity.settings import Settings

# Each dependency reads the state off the connection itself rather than depending on
# get_state: FastAPI resolves every dependency of a request anew, and the start route's
# latency is measured against the raw Temporal client (tests/benchmarks/api.py).


def state_of(connection: HTTPConnection) -> AppState:
    return connection.app.state.auterity  # type: ignore[no-any-return]


async def get_state(connection: HTTPConnection) -> AppState:
    return state_of(connection)


StateDep = Annotated[AppState, Depends(get_state)]


async def get_settings_dep(connection: HTTPConnection) -> Settings:
    return state_of(connection).settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


_SESSION = "auterity_session"


def session_of(connection: HTTPConnection) -> Session:
    """The request's database session, opened on first use and kept in its scope: the
    route's and its authentication's are one, without a dependency of one on the other
    (FastAPI would solve it again for each)."""
    state = connection.scope.setdefault("state", {})
    session: Session | None = state.get(_SESSION)
    if session is None:
        session = state[_SESSION] = state_of(connection).sessions()
    return session


async def get_session(connection: HTTPConnection) -> AsyncIterator[Session]:
    """A session whose transaction commits when the handler returns without error.

    A handler may also commit earlier; the session then begins a new transaction on use.
    A request that never reached the database (all it read was in `auterity.cache`)
    ends without a trip to a worker thread, or any work at all."""
    session = session_of(connection)
    try:
        yield session
    except BaseException:
        await end_session(connection.scope, commit=False)
        raise
    await end_session(connection.scope, commit=True)


async def end_session(scope: Scope, *, commit: bool) -> None:
    """End the request's session, if it has one still open: commit or roll back. The
    middleware ends one that only authentication used (a route without `SessionDep`)."""
    session: Session | None = scope.get("state", {}).pop(_SESSION, None)
    if session is None:
        return

    def end() -> None:
        with session:
            if commit:
                session.commit()

    if session.in_transaction():
        await asyncio.to_thread(end)
    elif session.identity_map:  # committed early: let go of what it loaded
        session.close()
    # else it never began: no connection, nothing loaded, nothing for close() to let go


# scope="function": commit before the response is sent, so a 2xx means the change is durable
# and a client acting on it at once (a new API key, a rotated token) finds it.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def get_temporal(connection: HTTPConnection) -> Client:
    try:
        return await state_of(connection).temporal_client()
    except DependencyUnavailable as exc:
        raise ServiceUnavailable(str(exc)) from None


TemporalDep = Annotated[Client, Depends(get_temporal)]


def public_base(connection: HTTPConnection) -> str:
    """The API's public base URL: AUTERITY_PUBLIC_URL, else the one this request came to (the
    URLs an IdP is given are built from it)."""
    return (state_of(connection).settings.public_url or str(connection.base_url)).rstrip("/")


async def get_public_base(connection: HTTPConnection) -> str:
    return public_base(connection)


PublicBaseDep = Annotated[str, Depends(get_public_base)]
