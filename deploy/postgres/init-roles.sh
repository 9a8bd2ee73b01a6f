#!/bin/sh
# Runs once, when the PostgreSQL volume is first initialised (docker-entrypoint-initdb.d).
# Three logins, none of them the superuser:
#   auterity_owner - owns the auterity database and its tables; used only by `auterity migrate`
#   auterity_api   - the API's and the workers' login: a member of auterity_app, which may
#                    read and write rows but owns nothing, so row-level security binds it
#   temporal       - Temporal's persistence and visibility databases
# auterity_app is created here (the migrations create it only when their login may create
# roles); the migrations then grant it what it needs on every table.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v owner_password="$AUTERITY_OWNER_DB_PASSWORD" \
  -v app_password="$AUTERITY_APP_DB_PASSWORD" \
  -v temporal_password="$TEMPORAL_DB_PASSWORD" <<'SQL'
CREATE ROLE auterity_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE auterity_app NOLOGIN;
CREATE ROLE auterity_api LOGIN PASSWORD :'app_password' IN ROLE auterity_app;
CREATE ROLE temporal LOGIN CREATEDB PASSWORD :'temporal_password';
CREATE DATABASE auterity OWNER auterity_owner;
REVOKE ALL ON DATABASE auterity FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE auterity TO auterity_app;
SQL
