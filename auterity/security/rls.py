"""PostgreSQL row-level security for tenant-owned tables: the second wall behind scoping.

Migrations call `enable_tenant_rls(table)` for every tenant-owned table they
create. The policy admits a row only when its `tenant_id` equals the
transaction's `app.tenant_id` (set by `auterity.security.scoping`), for reads
(USING) and writes (WITH CHECK); with no tenant set nothing matches. FORCE
makes it bind the tables' owner too. The app connects as a member of
`APP_ROLE`, which may read and write rows but owns nothing.
"""

from __future__ import annotations

from alembic import op

APP_ROLE = "auterity_app"
TENANT_MATCH = "tenant_id = current_setting('app.tenant_id', true)"


def is_postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def enable_tenant_rls(table: str) -> None:
    """ENABLE + FORCE row-level security on `table` with the tenant isolation policy."""
    if not is_postgres():
        return
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} "
        f"USING ({TENANT_MATCH}) WITH CHECK ({TENANT_MATCH})"
    )


def disable_tenant_rls(table: str) -> None:
    if not is_postgres():
        return
    op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
    op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")


def add_lookup_policy(table: str, name: str, condition: str) -> None:
    """A narrow extra SELECT policy (a credential look-up before the tenant is known)."""
    if is_postgres():
        op.execute(f"CREATE POLICY {name} ON {table} FOR SELECT USING ({condition})")


def drop_policy(table: str, name: str) -> None:
    if is_postgres():
        op.execute(f"DROP POLICY IF EXISTS {name} ON {table}")


def ensure_app_role() -> None:
    """Create the app's role (no login: grant it to the login the API and workers use).

    It gets DML on every table of the schema, now and later, but owns none, so
    row-level security binds it. Creating a role needs CREATEROLE; without it the
    migration goes on and says so, and an administrator creates the role.
    """
    if not is_postgres():
        return
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                BEGIN
                    CREATE ROLE {APP_ROLE} NOLOGIN;
                EXCEPTION
                    WHEN duplicate_object THEN NULL;
                    WHEN insufficient_privilege THEN
                        RAISE WARNING 'cannot create role {APP_ROLE}: create it, then rerun';
                        RETURN;
                END;
            END IF;
            EXECUTE format('GRANT USAGE ON SCHEMA %I TO {APP_ROLE}', current_schema());
            EXECUTE format(
                'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO {APP_ROLE}',
                current_schema());
            EXECUTE format(
                'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO {APP_ROLE}',
                current_schema());
            EXECUTE format(
                'ALTER DEFAULT PRIVILEGES IN SCHEMA %I '
                'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}', current_schema());
            EXECUTE format(
                'ALTER DEFAULT PRIVILEGES IN SCHEMA %I '
                'GRANT USAGE, SELECT ON SEQUENCES TO {APP_ROLE}', current_schema());
            REVOKE ALL ON alembic_version FROM {APP_ROLE};
            -- The audit trail is append-only for the app: no UPDATE, ever.
            REVOKE UPDATE ON audit_entries FROM {APP_ROLE};
        END
        $$;
        """
    )
