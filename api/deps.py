"""FastAPI dependencies as annotated aliases: SessionDep, TemporalDep, SettingsDep."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session
from starlette.requests import HTTPConnection
from temporalio.client import Client

from api.problems import ServiceUnavailable
from api.state import AppState
from auterity.errors import DependencyUnavailable
from auterity.settings import Settings


async def get_state(connection: HTTPConnection) -> AppState:
    return connection.app.state.auterity  # type: ignore[no-any-return]


StateDep = Annotated[AppState, Depends(get_state)]


async def get_settings_dep(state: StateDep) -> Settings:
    return state.settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def get_session(state: StateDep) -> Iterator[Session]:
    """A session whose transaction commits when the handler returns without error."""
    with state.sessions() as session, session.begin():
        yield session


# scope="function": commit before the response is sent, so a 2xx means the change is durable
# and a client acting on it at once (a new API key, a rotated token) finds it.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def get_temporal(state: StateDep) -> Client:
    try:
        return await state.temporal_client()
    except DependencyUnavailable as exc:
        raise ServiceUnavailable(str(exc)) from None


TemporalDep = Annotated[Client, Depends(get_temporal)]
