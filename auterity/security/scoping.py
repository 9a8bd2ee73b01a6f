"""Tenant scoping: the one mechanism that keeps every ORM query inside one tenant.

`install_tenant_scope(factory)` (called by `auterity.db.make_sessionmaker`) hooks
every session the factory makes:

- each ORM SELECT, UPDATE and DELETE gets `tenant_id = <session tenant>` on every
  tenant-owned entity it touches (`with_loader_criteria`); a session without a
  tenant matches no tenant-owned row at all;
- each flush refuses a tenant-owned row of another tenant (and fills in the
  session's tenant when the row has none);
- on PostgreSQL each transaction runs `set_config('app.tenant_id', ..., true)`,
  which the row-level security policies of migration 0003 read: the second wall.

Routes never filter by tenant themselves; they call `set_tenant` once (the
principal dependency does) and query. The only queries that cross tenants are
credential look-ups before the tenant is known, marked with `unscoped()` and
narrowed on PostgreSQL by `set_lookup` (see the policies in migration 0003).
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import event, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, with_loader_criteria
from sqlalchemy.sql import Executable

from auterity.models.base import TenantOwned

TENANT = "auterity.tenant_id"
PG_SETTINGS = "auterity.pg_settings"
UNSCOPED = "auterity_unscoped"
_CONNECTED = "auterity.connected"  # the session's transaction holds a connection
# What the PostgreSQL policies read, and the driver SQL that sets it for one transaction.
TENANT_SETTING = "app.tenant_id"
SET_CONFIG = "SELECT set_config(%s, %s, true)"

E = TypeVar("E", bound=Executable)


class TenantScopeError(RuntimeError):
    """Code tried to write a tenant-owned row outside its session's tenant (a bug)."""


def install_tenant_scope(target: Any) -> None:
    """Scope every session made by `target` (a sessionmaker or the Session class)."""
    if event.contains(target, "do_orm_execute", _scope_statement):
        return
    event.listen(target, "do_orm_execute", _scope_statement)
    event.listen(target, "before_flush", _check_rows)
    event.listen(target, "after_begin", _apply_pg_settings)
    event.listen(target, "after_transaction_end", _disconnected)


def set_tenant(session: Session, tenant_id: str) -> None:
    """From now on `session` sees and writes only `tenant_id`'s rows."""
    session.info[TENANT] = tenant_id
    _set_pg(session, TENANT_SETTING, tenant_id)


def connected(session: Session) -> bool:
    """Whether the session's transaction holds a database connection."""
    return bool(session.info.get(_CONNECTED))


def current_tenant(session: Session) -> str | None:
    return session.info.get(TENANT)


def set_lookup(
    session: Session,
    *,
    user_id: str | None = None,
    credential: str | None = None,
    login_keys: list[str] | None = None,
) -> None:
    """Open the narrow PostgreSQL policies a credential look-up needs.

    `user_id`: after a password check, that user's memberships become visible.
    `credential`: the sha256 of a presented refresh token or API key; the row
    with that hash becomes visible. `login_keys`: the rate limiter's counts of these keys
    (account and address of the login at hand). Nothing else is.
    """
    if user_id is not None:
        _set_pg(session, "app.user_id", user_id)
    if credential is not None:
        _set_pg(session, "app.credential_hash", credential)
    if login_keys is not None:
        _set_pg(session, "app.login_keys", " ".join(login_keys))


def set_webhook_lookup(session: Session, trigger_id: str) -> None:
    """Open the narrow PostgreSQL policy a public webhook delivery needs: that trigger's row."""
    _set_pg(session, "app.trigger_id", trigger_id)


def unscoped(statement: E) -> E:
    """Mark a credential look-up that must run before the tenant is known."""
    return statement.execution_options(**{UNSCOPED: True})


def _scope_statement(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        return  # the criteria of the statement that loaded the parent carry over
    if state.execution_options.get(UNSCOPED, False):
        return
    tenant = state.session.info.get(TENANT) or ""
    state.statement = state.statement.options(
        with_loader_criteria(TenantOwned, lambda cls: cls.tenant_id == tenant, include_aliases=True)
    )


def _check_rows(session: Session, _context: object, _instances: object) -> None:
    tenant = session.info.get(TENANT)
    for row in session.new:
        if not isinstance(row, TenantOwned):
            continue
        if row.tenant_id is None:
            if tenant is None:
                raise TenantScopeError(
                    f"{type(row).__name__} written by a session without a tenant"
                )
            row.tenant_id = tenant
        elif row.tenant_id != tenant:
            raise TenantScopeError(f"{type(row).__name__} of another tenant written")
    for row in session.dirty:
        if isinstance(row, TenantOwned) and inspect(row).attrs.tenant_id.history.has_changes():
            raise TenantScopeError(f"{type(row).__name__} moved to another tenant")


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _set_pg(session: Session, name: str, value: str) -> None:
    # Remember it for the after_begin hook, which sets it when the transaction gets its
    # connection; set it now only if that already happened. A request that finds
    # everything in `auterity.cache` so never costs a round trip for this.
    session.info.setdefault(PG_SETTINGS, {})[name] = value
    if session.info.get(_CONNECTED) and _is_postgres(session):
        _set_config(session.connection(), name, value)


def _apply_pg_settings(
    session: Session, _transaction: SessionTransaction, connection: Connection
) -> None:
    session.info[_CONNECTED] = True
    settings = session.info.get(PG_SETTINGS)
    if settings and connection.dialect.name == "postgresql":
        for name, value in settings.items():
            _set_config(connection, name, value)


def _disconnected(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_CONNECTED, None)


def _set_config(connection: Connection, name: str, value: str) -> None:
    # Plain driver SQL: this runs at the start of every PostgreSQL transaction.
    connection.exec_driver_sql(SET_CONFIG, (name, value))
