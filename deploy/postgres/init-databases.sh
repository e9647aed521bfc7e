#!/bin/sh
# PostgreSQL for the grants platform, least privilege: one login role and one database per
# service, the database owned by its role (its migrations create the tables; no superuser, no
# CREATEDB), nobody else may connect; and a read-only auditor role (grants_auditor) that may
# connect to every service database (grant-auditor.sh gives it SELECT on audit_log and outbox
# once the services have created them).
#
# Runs once, as the superuser, when the data volume is first initialised
# (/docker-entrypoint-initdb.d in the postgres image). Passwords come from the environment.
# On a managed server run the same statements by hand (docs/production.md).
set -eu

SERVICES="intake assessment payments reporting"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v password="${AUDITOR_DB_PASSWORD:?AUDITOR_DB_PASSWORD is not set}" <<'SQL'
CREATE ROLE grants_auditor LOGIN PASSWORD :'password' NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
SQL

for service in $SERVICES; do
  variable="$(echo "$service" | tr '[:lower:]' '[:upper:]')_DB_PASSWORD"
  password="$(printenv "$variable" || true)"
  if [ -z "$password" ]; then
    echo "init-databases: $variable is not set" >&2
    exit 1
  fi
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v role="$service" -v password="$password" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password' NOSUPERUSER NOCREATEDB NOCREATEROLE;
CREATE DATABASE :"role" OWNER :"role";
REVOKE ALL ON DATABASE :"role" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"role" TO grants_auditor;
SQL
done
