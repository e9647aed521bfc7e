#!/bin/sh
# Lets the read-only auditor role (grants_auditor) read what `grants audit replay` verifies in
# each service database: the hash-chained audit_log and the outbox (which events were relayed).
# Run as a superuser (or the database owners) after the services have migrated their databases;
# idempotent. Connection from the libpq environment (PGHOST, PGUSER, PGPASSWORD).
set -eu

SERVICES="intake assessment payments reporting"

for service in $SERVICES; do
  psql -v ON_ERROR_STOP=1 --dbname "$service" <<'SQL'
GRANT USAGE ON SCHEMA public TO grants_auditor;
GRANT SELECT ON audit_log, outbox TO grants_auditor;
SQL
done
echo "grant-auditor: grants_auditor may read audit_log and outbox of: $SERVICES"
