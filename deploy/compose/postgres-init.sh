#!/bin/bash
# Runs once when the postgres volume is new (/docker-entrypoint-initdb.d), and again at every
# `make compose-up` (deploy/compose/run.sh, through `exec`, so a volume made before the roles
# gets them): one database per service plus the registry's, the names native `make up` uses
# (PG_DATABASES in deploy/lib.sh; checks/compose-check.sh checks that the two lists agree), and
# each service's own role from its DATABASE_URL_* (user = database name, password from the URL)
# with deploy/postgres/service-role.sql, the script `make up` runs. Idempotent.
set -euo pipefail
psql=(psql -X -q -v ON_ERROR_STOP=1 --username "$POSTGRES_USER")
for db in taskflow_tasks taskflow_executor taskflow_notify taskflow_scheduler taskflow_registry; do
  "${psql[@]}" --dbname postgres -At -c "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 ||
    "${psql[@]}" --dbname postgres -c "CREATE DATABASE \"$db\" OWNER \"$POSTGRES_USER\""
done

urldecode() { printf '%b' "${1//%/\\x}"; }
for var in DATABASE_URL_TASKS DATABASE_URL_EXECUTOR DATABASE_URL_NOTIFY DATABASE_URL_SCHEDULER; do
  url="${!var:-}"
  if [[ ! "$url" =~ ^postgres(ql)?://([^:@/]+):([^@/]*)@[^/]+/([^/?]+) ]]; then
    echo "postgres-init: $var is not postgres://USER:PASSWORD@HOST:PORT/DATABASE (see deploy/.env.example)" >&2
    exit 1
  fi
  role="$(urldecode "${BASH_REMATCH[2]}")" db="${BASH_REMATCH[4]}"
  if [[ "$role" == "$POSTGRES_USER" ]]; then
    # An env file from before the roles; deploy/compose/run.sh rewrites it at compose-up. Never
    # hand the superuser to service-role.sql (it would lose its superuser bit).
    echo "postgres-init: $var connects as the superuser $POSTGRES_USER: no role of its own made" >&2
    continue
  fi
  [[ "$role" == "$db" ]] || { echo "postgres-init: $var: the role ($role) must be named like its database ($db)" >&2; exit 1; }
  TASKFLOW_ROLE_PASSWORD="$(urldecode "${BASH_REMATCH[3]}")" "${psql[@]}" --dbname postgres -v role="$role" \
    -f /taskflow/service-role.sql >/dev/null
  echo "postgres-init: role $role owns database $db"
done
