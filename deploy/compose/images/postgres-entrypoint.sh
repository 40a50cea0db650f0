#!/bin/bash
# The official postgres image's entrypoint, the parts deploy/compose.yaml uses: on an empty
# PGDATA, initdb as POSTGRES_USER with POSTGRES_PASSWORD, create POSTGRES_DB, run
# /docker-entrypoint-initdb.d/*.sh and *.sql against a server listening on the socket only; then
# exec the command (`postgres -c …`) as the postgres user.
set -euo pipefail
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

if [[ "${1:-}" == postgres && "$(id -u)" == 0 ]]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
fi
if [[ "${1:-}" == postgres && ! -s "$PGDATA/PG_VERSION" ]]; then
  : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
  export POSTGRES_USER="${POSTGRES_USER:-postgres}" POSTGRES_DB="${POSTGRES_DB:-${POSTGRES_USER:-postgres}}"
  pwfile="$(mktemp)"; printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"; chown postgres "$pwfile"
  as_postgres initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust \
    --auth-host=scram-sha-256 --encoding=UTF8 -D "$PGDATA" >/dev/null
  rm -f "$pwfile"
  printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
  printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.auto.conf"
  as_postgres pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=/var/run/postgresql" -w start >/dev/null
  export PGHOST=/var/run/postgresql PGUSER="$POSTGRES_USER"
  if [[ "$POSTGRES_DB" != postgres ]]; then
    as_postgres psql -v ON_ERROR_STOP=1 --dbname postgres -c "CREATE DATABASE \"$POSTGRES_DB\"" >/dev/null
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh) echo "docker-entrypoint: running $f"; if [[ -x "$f" ]]; then as_postgres "$f"; else as_postgres bash "$f"; fi ;;
      *.sql) echo "docker-entrypoint: running $f"; as_postgres psql -v ON_ERROR_STOP=1 --dbname "$POSTGRES_DB" -f "$f" ;;
      *) ;;
    esac
  done
  unset PGHOST PGUSER
  as_postgres pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo "docker-entrypoint: PostgreSQL init process complete; ready for start up."
fi
if [[ "${1:-}" == postgres && "$(id -u)" == 0 ]]; then
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$@"
fi
exec "$@"
