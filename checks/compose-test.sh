#!/usr/bin/env bash
# `make compose-test`: the compose stack started for real and tried through its entry point, in a
# project of its own (TASKFLOW_COMPOSE_PROJECT=taskflow-test, state in .taskflow/compose/test/,
# entry port COMPOSE_TEST_PORT, default 18089; Kafka and the registry on 127.0.0.1 at
# COMPOSE_TEST_KAFKA_PORT 18087 and COMPOSE_TEST_REGISTRY_PORT 18088), so a `make compose-up`
# stack is left alone.
#   1. from nothing: its volumes deleted, then deploy/compose/run.sh up (builds what changed)
#   2. roles: each service is connected to PostgreSQL as its own role (no superuser, owner of its
#      database) and that role is refused at every other service's database; executor-url: the
#      TASKFLOW_EXECUTOR_URL of dev.env reaches an executor through the entry point, its
#      /metrics does not; admin-routes: each service's projection rebuild started through the
#      entry point (/v1/admin, /executor/v1/admin, /notify/v1/admin, /scheduler/v1/admin)
#   3. checks/compose_test.py work: routes, 100 tasks across an executor kill, SSE, a schedule
#   4. checks/foreign-client-check.sh, the stock Kafka/Avro client of `make test`, against this
#      stack's Kafka and registry through the addresses its dev.env gives the host
#   5. legacy: the volume and env file turned into what they were before the roles (tables owned
#      by the superuser, no roles, DATABASE_URL_* naming the superuser), then stop (volumes
#      kept) and start again: compose_test.py kept (the data survived) and roles again (compose-up
#      made the roles, handed the tables over and rewrote the env file)
#   6. down with its volumes; no container of the project is left
# Prints how long each step took.
set -euo pipefail
cd "$(dirname "$0")/.."
export TASKFLOW_COMPOSE_PROJECT=taskflow-test TASKFLOW_COMPOSE_STATE=.taskflow/compose/test
export TASKFLOW_ENTRY_PORT="${COMPOSE_TEST_PORT:-18089}"
export TASKFLOW_KAFKA_HOST_PORT="${COMPOSE_TEST_KAFKA_PORT:-18087}"
export TASKFLOW_REGISTRY_HOST_PORT="${COMPOSE_TEST_REGISTRY_PORT:-18088}"
# The stock-client check compiles a small Rust publisher; outside `make` too, not into the clone.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/taskflow/target}"
log() { printf '[compose-test] %s\n' "$*"; }
t0=$SECONDS
times=()
step() { local name="$1" s=$SECONDS; shift; "$@"; times+=("$name $((SECONDS - s))s"); }
cleanup() {
  local rc=$?
  if ((rc != 0)); then
    log "FAILED; the stack's containers:"
    deploy/compose/run.sh tails || true
    VOLUMES=1 deploy/compose/run.sh down >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

SERVICE_DBS=(taskflow_tasks taskflow_executor taskflow_notify taskflow_scheduler)
ENV_FILE=.taskflow/compose/test/compose.env
# The stack's postgres container, and psql in it: as the superuser over the socket, or as ROLE
# with PASSWORD over TCP (password authentication, as a service connects).
postgres_container() {
  "$TASKFLOW_COMPOSE_ENGINE" ps -q --filter "label=com.docker.compose.project=$TASKFLOW_COMPOSE_PROJECT" \
    --filter label=com.docker.compose.service=postgres | head -n1
}
psql_super() { "$TASKFLOW_COMPOSE_ENGINE" exec "$PG" psql -X -q -At -v ON_ERROR_STOP=1 -U taskflow "$@"; }
psql_as() { # ROLE PASSWORD DB SQL
  PGPASSWORD="$2" "$TASKFLOW_COMPOSE_ENGINE" exec -e PGPASSWORD "$PG" \
    psql -X -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -U "$1" -d "$3" -c "$4" 2>&1
}
# role:password of a service database's URL in the stack's env file.
url_credentials() {
  sed -n "s|^DATABASE_URL_[A-Z]*=postgres://\([^:@/]*\):\([^@/]*\)@[^/]*/$1\$|\1 \2|p" "$ENV_FILE"
}

# What e2e/tests/it/least_privilege.rs proves for `make up`, for this stack: every service's
# sessions in its database are its own role's; that role is no superuser, owns its database, and
# is refused at every other service's.
roles() {
  local db role pass other out sessions deadline
  PG="$(postgres_container)"
  [[ -n "$PG" ]] || { log "roles: no postgres container"; return 1; }
  for db in "${SERVICE_DBS[@]}"; do
    read -r role pass < <(url_credentials "$db") || true
    [[ -n "$role" && "$role" != taskflow ]] || { log "roles: DATABASE_URL of $db in $ENV_FILE names no role of its own ($role)"; return 1; }
    # The service holds pooled connections once ready; wait for them rather than assume.
    deadline=$((SECONDS + 60))
    until sessions="$(psql_super -d postgres -c "SELECT string_agg(DISTINCT usename, ',') FROM pg_stat_activity
                        WHERE datname = '$db' AND backend_type = 'client backend' AND pid <> pg_backend_pid()")" &&
          [[ -n "$sessions" ]]; do
      ((SECONDS < deadline)) || { log "roles: no session in $db after 60 s"; return 1; }
      sleep 1
    done
    [[ "$sessions" == "$role" ]] || { log "roles: $db has sessions of $sessions, expected only $role"; return 1; }
    out="$(psql_as "$role" "$pass" "$db" "SELECT current_user, rolsuper, pg_get_userbyid(datdba) = current_user
                                          FROM pg_roles, pg_database WHERE rolname = current_user AND datname = current_database()")"
    [[ "$out" == "$role|f|t" ]] || { log "roles: $role in $db: expected '$role|f|t' (role, superuser, owns it), got: $out"; return 1; }
    for other in "${SERVICE_DBS[@]}"; do
      [[ "$other" != "$db" ]] || continue
      if out="$(psql_as "$role" "$pass" "$other" "SELECT 1")"; then
        log "roles: $role enters $other"; return 1
      fi
      [[ "$out" == *"permission denied for database"* ]] || { log "roles: $role -> $other: $out"; return 1; }
    done
  done
  log "roles: each of ${SERVICE_DBS[*]} is used only by its own role (no superuser, owner), refused at the other three"
}

# dev.env's TASKFLOW_EXECUTOR_URL is the entry point's /executor: health and /v1 (admin) reach a
# replica; /metrics stays on the compose network, like the other services'.
executor_url() {
  local body code
  [[ "${TASKFLOW_EXECUTOR_URL:-}" == */executor ]] || { log "executor-url: dev.env has TASKFLOW_EXECUTOR_URL='${TASKFLOW_EXECUTOR_URL:-}'"; return 1; }
  body="$(curl -sS --max-time 10 "$TASKFLOW_EXECUTOR_URL/health/ready")" || { log "executor-url: $TASKFLOW_EXECUTOR_URL/health/ready does not answer"; return 1; }
  [[ "$body" == *'"status":"ready"'* ]] || { log "executor-url: $TASKFLOW_EXECUTOR_URL/health/ready answered $body"; return 1; }
  code="$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "$TASKFLOW_EXECUTOR_URL/metrics")"
  [[ "$code" == 404 ]] || { log "executor-url: $TASKFLOW_EXECUTOR_URL/metrics answered $code, expected 404 (not published)"; return 1; }
  log "executor-url: $TASKFLOW_EXECUTOR_URL/health/ready is ready, /metrics not published"
}

# Every service has POST /v1/admin/projections/rebuild: through the entry point each reaches its
# own service (the job's unit says which; svc-notify's and svc-tasks' both count tasks, so the
# job svc-notify started must be unknown to svc-tasks).
admin_routes() {
  local entry="${TASKFLOW_API_URL%/}" prefix unit job id
  for pair in ":tasks" "/executor:executions" "/notify:tasks" "/scheduler:schedules"; do
    prefix="${pair%%:*}" unit="${pair##*:}"
    job="$(curl -sS --max-time 10 -X POST -H "Authorization: Bearer $TASKFLOW_ADMIN_TOKEN"       "$entry$prefix/v1/admin/projections/rebuild")" || { log "admin-routes: POST $prefix/v1/admin/projections/rebuild failed"; return 1; }
    [[ "$job" == *'"unit":"'"$unit"'"'* ]] || { log "admin-routes: $prefix/v1/admin/projections/rebuild answered $job, expected unit $unit"; return 1; }
    if [[ "$prefix" == /notify ]]; then
      id="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["job_id"])' <<<"$job")"
      [[ "$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 -H "Authorization: Bearer $TASKFLOW_ADMIN_TOKEN"         "$entry/notify/v1/admin/projections/rebuild/$id")" == 200 ]] || { log "admin-routes: svc-notify's job $id not found at /notify"; return 1; }
      [[ "$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 -H "Authorization: Bearer $TASKFLOW_ADMIN_TOKEN"         "$entry/v1/admin/projections/rebuild/$id")" == 404 ]] || { log "admin-routes: svc-notify's job $id is svc-tasks' too"; return 1; }
    fi
  done
  log "admin-routes: a projection rebuild started in each of the four services through the entry point"
}

# Turn the stack's database and env file into what a stack from before the service roles had.
legacy() {
  local db c svc
  PG="$(postgres_container)"
  # The services first: no session holds on to a role that is about to go.
  for svc in svc-tasks svc-executor svc-notify svc-scheduler; do
    for c in $("$TASKFLOW_COMPOSE_ENGINE" ps -q --filter "label=com.docker.compose.project=$TASKFLOW_COMPOSE_PROJECT" \
        --filter "label=com.docker.compose.service=$svc"); do
      "$TASKFLOW_COMPOSE_ENGINE" stop -t 30 "$c" >/dev/null
    done
  done
  for db in "${SERVICE_DBS[@]}"; do
    psql_super -d "$db" -c "REASSIGN OWNED BY $db TO taskflow" -c "DROP OWNED BY $db" >/dev/null
    psql_super -d postgres -c "DROP ROLE $db" -c "GRANT CONNECT, TEMPORARY ON DATABASE $db TO PUBLIC" >/dev/null
    sed -i "s|^\(DATABASE_URL_[A-Z]*\)=postgres://[^@]*@\([^/]*\)/$db\$|\1=postgres://taskflow:taskflow@\2/$db|" "$ENV_FILE"
  done
  [[ "$(psql_super -d postgres -c "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'taskflow\_%'")" == 0 ]] ||
    { log "legacy: service roles are left"; return 1; }
  log "legacy: no service roles, their tables the superuser's, $ENV_FILE's DATABASE_URL_* the superuser's"
}

step down-before env VOLUMES=1 deploy/compose/run.sh down
step up-cold deploy/compose/run.sh up
# shellcheck disable=SC1091
source .taskflow/compose/test/dev.env
step roles roles
step executor-url executor_url
step admin-routes admin_routes
step work python3 checks/compose_test.py work .taskflow/compose/test/state.json
step foreign-client timeout 300 checks/foreign-client-check.sh
step legacy legacy
step down-keep deploy/compose/run.sh down
# The images were built by the first up: start them again as they are.
step up-again env BUILD=0 deploy/compose/run.sh up
# shellcheck disable=SC1091
source .taskflow/compose/test/dev.env
step kept python3 checks/compose_test.py kept .taskflow/compose/test/state.json
step roles-again roles
step down-all env VOLUMES=1 deploy/compose/run.sh down
trap - EXIT
log "green in $((SECONDS - t0))s: ${times[*]}"
