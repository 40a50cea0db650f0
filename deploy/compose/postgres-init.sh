#!/bin/bash
# Runs once, when the postgres volume is new (/docker-entrypoint-initdb.d): one database per
# service plus the registry's, the names native `make up` uses (PG_DATABASES in deploy/lib.sh;
# checks/compose-check.sh checks that the two lists agree).
set -euo pipefail
for db in taskflow_tasks taskflow_executor taskflow_notify taskflow_scheduler taskflow_registry; do
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -c "CREATE DATABASE \"$db\" OWNER \"$POSTGRES_USER\""
done
