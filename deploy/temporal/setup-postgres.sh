#!/bin/sh
# Creates (first run) or upgrades (later runs) Temporal's two databases on PostgreSQL,
# with temporal-sql-tool from the temporalio/admin-tools image. SQL_PASSWORD is read
# by the tool. Safe to run again: existing databases and schema versions are kept.
set -eu
SCHEMA=/etc/temporal/schema/postgresql/v12
for db in temporal temporal_visibility; do
  case $db in temporal) dir=$SCHEMA/temporal/versioned ;; *) dir=$SCHEMA/visibility/versioned ;; esac
  temporal-sql-tool --plugin postgres12 --ep postgres -p 5432 -u "$SQL_USER" --db "$db" create
  temporal-sql-tool --plugin postgres12 --ep postgres -p 5432 -u "$SQL_USER" --db "$db" setup-schema -v 0.0
  temporal-sql-tool --plugin postgres12 --ep postgres -p 5432 -u "$SQL_USER" --db "$db" update-schema -d "$dir"
done
