# shellcheck shell=bash
# shellcheck disable=SC2034 # the settings below are used by the scripts that source this file
# Shared by bench/bench.sh (`make bench`) and bench/bench-peers.sh (`make bench-peers`): a
# release svc-tasks and svc-executor(s) of their own, with fresh databases, their own topic prefix
# and consumer groups, so nothing mixes with the dev services `make up` runs or with their data.
# Source it after deploy/lib.sh; callers use `set -euo pipefail`.
#
# bench_init KIND TS names everything after KIND (bench, peers) and the timestamp TS:
#   DB, EXEC_DB            taskflow_<kind>_<ts>, taskflow_<kind>_exec_<ts>
#   PREFIX                 <kind>-<ts>.  (topics)
#   GROUP, EXEC_GROUP      <kind>-<ts>-svc-tasks, <kind>-<ts>-svc-executor
#   SVC_LOG, EXEC_LOG      .taskflow/logs/<kind>-svc-tasks.log, <kind>-svc-executor.log
#   TARGET, BIN, EXEC_BIN  release binaries under $CARGO_TARGET_DIR
#   WORK                   a scratch directory (removed by bench_cleanup_services' caller)
#   NOTIFY_DB, SCHED_DB    taskflow_<kind>_notify_<ts>, taskflow_<kind>_sched_<ts> (bench-peers:
#                          svc-notify and svc-scheduler, which follow the same topics)
#   NOTIFY_GROUP, SCHED_GROUP  <kind>-<ts>-svc-notify, <kind>-<ts>-svc-scheduler
# The caller sets PORT (svc-tasks), E2E_PORT (first executor; instance n listens on +n-1),
# E2E_EXEC_CONC (attempts per executor), WORKERS and DB_POOL (svc-tasks) before starting anything;
# an empty E2E_EXEC_CONC, WORKERS or DB_POOL leaves that setting to the service's default, as
# `make up` does. Followers (bench_start_notify, bench_start_scheduler N) listen on FOLLOW_PORT
# (svc-notify) and FOLLOW_PORT + N (scheduler N), set by the caller.

bench_init() {
  BENCH_KIND="$1"
  BENCH_TS="$2"
  DB="taskflow_${BENCH_KIND}_${BENCH_TS//-/_}"
  EXEC_DB="taskflow_${BENCH_KIND}_exec_${BENCH_TS//-/_}"
  PREFIX="$BENCH_KIND-$BENCH_TS."
  GROUP="$BENCH_KIND-$BENCH_TS-svc-tasks"
  EXEC_GROUP="$BENCH_KIND-$BENCH_TS-svc-executor"
  SVC_LOG="$LOG_DIR/$BENCH_KIND-svc-tasks.log"
  EXEC_LOG="$LOG_DIR/$BENCH_KIND-svc-executor.log"
  TARGET="${CARGO_TARGET_DIR:-$HOME/.cache/taskflow/target}"
  BIN="$TARGET/release/svc-tasks"
  EXEC_BIN="$TARGET/release/svc-executor"
  WORK="$(mktemp -d)"
  SVC_PID=""
  EXEC_PIDS=()
  DB_CREATED=0
  EXEC_DB_CREATED=0
  EXEC_LOG_STARTED=0
  NOTIFY_DB="taskflow_${BENCH_KIND}_notify_${BENCH_TS//-/_}"
  SCHED_DB="taskflow_${BENCH_KIND}_sched_${BENCH_TS//-/_}"
  NOTIFY_GROUP="$BENCH_KIND-$BENCH_TS-svc-notify"
  SCHED_GROUP="$BENCH_KIND-$BENCH_TS-svc-scheduler"
  NOTIFY_LOG="$LOG_DIR/$BENCH_KIND-svc-notify.log"
  SCHED_LOG="$LOG_DIR/$BENCH_KIND-svc-scheduler.log"
  NOTIFY_BIN="$TARGET/release/svc-notify"
  SCHED_BIN="$TARGET/release/svc-scheduler"
  NOTIFY_PID=""
  SCHED_PIDS=()
  NOTIFY_DB_CREATED=0
  SCHED_DB_CREATED=0
  URL="http://$HOST:${PORT:?set PORT before bench_init}"
}

# --- build ---------------------------------------------------------------------------------------

# bench_build [executor|all]: svc-tasks and the taskflow-bench binaries (release), then
# svc-executor; `all`: the four services in one invocation, as `make up` builds them (release).
bench_build() {
  if [[ "${1:-}" == all ]]; then
    info "building the four services and the bench tools (release; the first time takes several minutes)"
    (cd "$TASKFLOW_ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --release --quiet \
      -p svc-tasks --bin svc-tasks -p svc-executor --bin svc-executor \
      -p svc-notify --bin svc-notify -p svc-scheduler --bin svc-scheduler) ||
      die "cargo build --release of the four services failed"
    (cd "$TASKFLOW_ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --release --quiet -p taskflow-bench --bins) ||
      die "cargo build --release -p taskflow-bench failed"
    return 0
  fi
  info "building svc-tasks and the bench tools (release; the first time takes several minutes)"
  (cd "$TASKFLOW_ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --release --quiet -p svc-tasks -p taskflow-bench --bins) ||
    die "cargo build --release -p svc-tasks failed"
  if [[ "${1:-}" == executor ]]; then
    # A separate invocation: building both packages at once would unify their dependencies'
    # features and rebuild what the other build cached.
    (cd "$TASKFLOW_ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --release --quiet -p svc-executor -p taskflow-bench --bins) ||
      die "cargo build --release -p svc-executor failed"
  fi
}

# --- cleanup -------------------------------------------------------------------------------------

# Stops the followers, the executors and svc-tasks this script started.
bench_stop_services() {
  local pid
  for pid in "${SCHED_PIDS[@]}" ${NOTIFY_PID:+"$NOTIFY_PID"}; do
    if kill -0 "$pid" 2>/dev/null; then
      info "stopping a $BENCH_KIND follower (svc-notify/svc-scheduler, pid $pid)"
      stop_pid "$pid" 15
    fi
  done
  for pid in "${EXEC_PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      info "stopping a $BENCH_KIND svc-executor (pid $pid)"
      stop_pid "$pid" 30
    fi
  done
  if [[ -n "$SVC_PID" ]] && kill -0 "$SVC_PID" 2>/dev/null; then
    info "stopping the $BENCH_KIND svc-tasks (pid $SVC_PID)"
    stop_pid "$SVC_PID" 15
  fi
}

# For the caller's EXIT trap: stops the services, drops the databases, deletes the topics,
# consumer groups and registry subjects (BENCH_KEEP=1 keeps them). Does not exit.
bench_cleanup_services() {
  bench_stop_services
  if ((DB_CREATED)) && [[ "${BENCH_KEEP:-0}" != 1 ]]; then
    pg_psql -d postgres -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" ||
      warn "could not drop database $DB"
    if ((EXEC_DB_CREATED)); then
      pg_psql -d postgres -c "DROP DATABASE IF EXISTS \"$EXEC_DB\" WITH (FORCE)" ||
        warn "could not drop database $EXEC_DB"
    fi
    if ((${NOTIFY_DB_CREATED:-0})); then
      pg_psql -d postgres -c "DROP DATABASE IF EXISTS \"$NOTIFY_DB\" WITH (FORCE)" ||
        warn "could not drop database $NOTIFY_DB"
    fi
    if ((${SCHED_DB_CREATED:-0})); then
      pg_psql -d postgres -c "DROP DATABASE IF EXISTS \"$SCHED_DB\" WITH (FORCE)" ||
        warn "could not drop database $SCHED_DB"
    fi
    bench_drop_kafka_and_subjects || warn "could not delete every $BENCH_KIND topic/subject (prefix $PREFIX)"
  elif ((DB_CREATED)); then
    info "BENCH_KEEP=1: kept database(s) $DB $( ((EXEC_DB_CREATED)) && echo "$EXEC_DB") $( ((${NOTIFY_DB_CREATED:-0})) && echo "$NOTIFY_DB") $( ((${SCHED_DB_CREATED:-0})) && echo "$SCHED_DB"), topics and subjects with prefix $PREFIX"
  fi
}

bench_drop_kafka_and_subjects() {
  local ok=0 subject
  "$DEPLOY_DIR/kafka/cli.sh" topics --delete --if-exists --topic "${PREFIX//./\\.}.*" >/dev/null 2>&1 || ok=1
  "$DEPLOY_DIR/kafka/cli.sh" consumer-groups --delete --group "$GROUP" >/dev/null 2>&1 || true # none if never joined
  if ((EXEC_DB_CREATED)); then
    "$DEPLOY_DIR/kafka/cli.sh" consumer-groups --delete --group "$EXEC_GROUP" >/dev/null 2>&1 || true
  fi
  if ((${NOTIFY_DB_CREATED:-0})); then
    "$DEPLOY_DIR/kafka/cli.sh" consumer-groups --delete --group "$NOTIFY_GROUP" >/dev/null 2>&1 || true
  fi
  if ((${SCHED_DB_CREATED:-0})); then
    "$DEPLOY_DIR/kafka/cli.sh" consumer-groups --delete --group "$SCHED_GROUP" >/dev/null 2>&1 || true
  fi
  # Subjects follow the topics (<topic>-value): soft delete, then permanent.
  while IFS= read -r subject; do
    [[ -n "$subject" ]] || continue
    curl -fsS -o /dev/null --max-time 10 -X DELETE "$REGISTRY_CCOMPAT/subjects/$subject" &&
      curl -fsS -o /dev/null --max-time 10 -X DELETE "$REGISTRY_CCOMPAT/subjects/$subject?permanent=true" || ok=1
  done < <(curl -fsS --max-time 10 "$REGISTRY_CCOMPAT/subjects" |
    python3 -c 'import json, sys; [print(s) for s in json.load(sys.stdin) if s.startswith(sys.argv[1])]' "$PREFIX")
  return "$ok"
}

# --- helpers -------------------------------------------------------------------------------------

# bench_http METHOD PATH BEARER OUT [JSON]: prints the HTTP status; bearer via stdin, not argv.
bench_http() {
  local method="$1" path="$2" bearer="$3" out="$4" data="${5:-}"
  local args=(-sS -o "$out" -w '%{http_code}' --max-time 10 -X "$method" -H @-)
  if [[ -n "$data" ]]; then args+=(-H 'Content-Type: application/json' --data "$data"); fi
  curl "${args[@]}" "$URL$path" <<<"Authorization: Bearer $bearer" 2>/dev/null || true
}

bench_ready() { curl -fsS -o /dev/null --max-time 3 "$URL/health/ready"; }

# Unpublished outbox rows, from GET /v1/admin/outbox (fails on anything but a count).
bench_backlog() {
  local code n
  code="$(bench_http GET /v1/admin/outbox "$ADMIN_TOKEN" "$WORK/outbox.json")"
  [[ "$code" == 200 ]] || return 1
  n="$(sed -n 's/.*"unpublished": *\([0-9][0-9]*\).*/\1/p' "$WORK/outbox.json")"
  [[ "$n" =~ ^[0-9]+$ ]] || return 1
  printf '%s' "$n"
}

bench_sql() { pg_psql -d "$DB" -At -F ' ' -c "$1"; }

# --- services ------------------------------------------------------------------------------------

bench_create_db() {
  pg_psql -d postgres -c "CREATE DATABASE \"$DB\"" || die "could not create database $DB"
  DB_CREATED=1
}

bench_create_exec_db() {
  pg_psql -d postgres -c "CREATE DATABASE \"$EXEC_DB\"" || die "could not create database $EXEC_DB"
  EXEC_DB_CREATED=1
}

# Starts svc-tasks (release) on $URL with database $DB and a fresh admin token (ADMIN_TOKEN);
# sets SVC_PID and waits until it is ready.
bench_start_svc_tasks() {
  require_port_free "$BENCH_KIND-svc-tasks" "$PORT"
  ADMIN_TOKEN="$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
  info "starting svc-tasks (release) on $URL: database $DB, topic prefix $PREFIX, ${WORKERS:-default} HTTP workers, pool ${DB_POOL:-default}"
  mkdir -p "$LOG_DIR"
  rotate_log "$SVC_LOG"
  printf '\n===== %s: %s %s =====\n' "$(date -u +%FT%TZ)" "$BENCH_KIND" "$BENCH_TS" >>"$SVC_LOG"
  # shellcheck disable=SC2030 # these exports are meant for svc-tasks' subshell only
  (
    # Exported, not on a command line, so the token stays out of `ps`.
    DATABASE_URL_TASKS="$(pg_url "$DB")"
    export DATABASE_URL_TASKS TASKFLOW_ADMIN_TOKEN="$ADMIN_TOKEN" \
      TASKFLOW_TASKS_BIND="$HOST:$PORT" TASKFLOW_TOPIC_PREFIX="$PREFIX" \
      TASKFLOW_TASKS_GROUP="$GROUP" RUST_LOG="${RUST_LOG:-info}"
    if [[ -n "$WORKERS" ]]; then export TASKFLOW_TASKS_WORKERS="$WORKERS"; else unset TASKFLOW_TASKS_WORKERS; fi
    if [[ -n "$DB_POOL" ]]; then export TASKFLOW_TASKS_DB_POOL="$DB_POOL"; else unset TASKFLOW_TASKS_DB_POOL; fi
    cd "$WORK"
    exec "$BIN" >>"$SVC_LOG" 2>&1 </dev/null 8>&- 9>&-
  ) &
  SVC_PID=$!
  wait_for "$BENCH_KIND-svc-tasks" 60 "$SVC_LOG" "$SVC_PID" bench_ready
}

# bench_create_tenant NAME: creates a tenant through the admin API; its key in TENANT_KEY.
bench_create_tenant() {
  local code
  code="$(bench_http POST /v1/admin/tenants "$ADMIN_TOKEN" "$WORK/tenant.json" "{\"name\":\"$1\"}")"
  [[ "$code" == 201 ]] || die_with_log "$BENCH_KIND-svc-tasks" "POST /v1/admin/tenants answered HTTP $code: $(head -c 300 "$WORK/tenant.json")" "$SVC_LOG"
  TENANT_KEY="$(python3 -c 'import json, sys; print(json.load(sys.stdin)["api_key"])' <"$WORK/tenant.json")"
}

# bench_start_executor N: instance <kind>-ex-N on $E2E_PORT + N - 1, same database and group for
# all; its pid is appended to EXEC_PIDS.
bench_start_executor() {
  local n="$1" port=$((E2E_PORT + $1 - 1)) pid
  require_port_free "$BENCH_KIND-svc-executor-$n" "$port"
  if ((!EXEC_LOG_STARTED)); then
    mkdir -p "$LOG_DIR"
    rotate_log "$EXEC_LOG"
    printf '\n===== %s: %s %s =====\n' "$(date -u +%FT%TZ)" "$BENCH_KIND" "$BENCH_TS" >>"$EXEC_LOG"
    EXEC_LOG_STARTED=1
  fi
  local instance="$BENCH_KIND-ex-$n"
  info "starting svc-executor $instance (release) on $HOST:$port, database $EXEC_DB, concurrency ${E2E_EXEC_CONC:-default}"
  # shellcheck disable=SC2030,SC2031 # these exports are meant for the executor's subshell only
  (
    DATABASE_URL_EXECUTOR="$(pg_url "$EXEC_DB")"
    export DATABASE_URL_EXECUTOR TASKFLOW_TOPIC_PREFIX="$PREFIX" TASKFLOW_EXECUTOR_GROUP="$EXEC_GROUP" \
      TASKFLOW_EXECUTOR_INSTANCE="$instance" TASKFLOW_EXECUTOR_BIND="$HOST:$port" \
      RUST_LOG="${RUST_LOG:-info}"
    if [[ -n "$E2E_EXEC_CONC" ]]; then
      export TASKFLOW_EXECUTOR_CONCURRENCY="$E2E_EXEC_CONC"
    else
      unset TASKFLOW_EXECUTOR_CONCURRENCY
    fi
    cd "$WORK"
    exec "$EXEC_BIN" >>"$EXEC_LOG" 2>&1 </dev/null 8>&- 9>&-
  ) &
  pid=$!
  EXEC_PIDS+=("$pid")
  wait_for "$BENCH_KIND-svc-executor-$n" 60 "$EXEC_LOG" "$pid" \
    curl -fsS -o /dev/null --max-time 3 "http://$HOST:$port/health/ready"
}

# --- followers: svc-notify and svc-scheduler (bench-peers) ---------------------------------------

bench_create_follower_dbs() {
  pg_psql -d postgres -c "CREATE DATABASE \"$NOTIFY_DB\"" || die "could not create database $NOTIFY_DB"
  NOTIFY_DB_CREATED=1
  pg_psql -d postgres -c "CREATE DATABASE \"$SCHED_DB\"" || die "could not create database $SCHED_DB"
  SCHED_DB_CREATED=1
}

# Starts svc-notify (release) on FOLLOW_PORT with database NOTIFY_DB, the bench's topic prefix and
# its own group; every other setting is the service's default, as under `make up`.
bench_start_notify() {
  local port="${FOLLOW_PORT:?set FOLLOW_PORT}"
  require_port_free "$BENCH_KIND-svc-notify" "$port"
  mkdir -p "$LOG_DIR"
  rotate_log "$NOTIFY_LOG"
  printf '\n===== %s: %s %s =====\n' "$(date -u +%FT%TZ)" "$BENCH_KIND" "$BENCH_TS" >>"$NOTIFY_LOG"
  info "starting svc-notify (release) on $HOST:$port: database $NOTIFY_DB, topic prefix $PREFIX"
  # shellcheck disable=SC2030,SC2031 # these exports are meant for svc-notify's subshell only
  (
    DATABASE_URL_NOTIFY="$(pg_url "$NOTIFY_DB")"
    export DATABASE_URL_NOTIFY TASKFLOW_TOPIC_PREFIX="$PREFIX" TASKFLOW_NOTIFY_GROUP="$NOTIFY_GROUP" \
      TASKFLOW_NOTIFY_BIND="$HOST:$port" TASKFLOW_API_URL="$URL" RUST_LOG="${RUST_LOG:-info}"
    cd "$WORK"
    exec "$NOTIFY_BIN" >>"$NOTIFY_LOG" 2>&1 </dev/null 8>&- 9>&-
  ) &
  NOTIFY_PID=$!
  wait_for "$BENCH_KIND-svc-notify" 60 "$NOTIFY_LOG" "$NOTIFY_PID" \
    curl -fsS -o /dev/null --max-time 3 "http://$HOST:$port/health/ready"
}

# bench_start_scheduler N: instance N on FOLLOW_PORT + N, database SCHED_DB and group SCHED_GROUP
# shared by all instances (as `make up SCHEDULERS=n` runs them); its pid is appended to SCHED_PIDS.
bench_start_scheduler() {
  local n="$1" port=$((${FOLLOW_PORT:?set FOLLOW_PORT} + $1)) pid
  require_port_free "$BENCH_KIND-svc-scheduler-$n" "$port"
  if ((${#SCHED_PIDS[@]} == 0)); then
    mkdir -p "$LOG_DIR"
    rotate_log "$SCHED_LOG"
    printf '\n===== %s: %s %s =====\n' "$(date -u +%FT%TZ)" "$BENCH_KIND" "$BENCH_TS" >>"$SCHED_LOG"
  fi
  info "starting svc-scheduler $n (release) on $HOST:$port: database $SCHED_DB, topic prefix $PREFIX"
  # shellcheck disable=SC2030,SC2031 # these exports are meant for the scheduler's subshell only
  (
    DATABASE_URL_SCHEDULER="$(pg_url "$SCHED_DB")"
    export DATABASE_URL_SCHEDULER TASKFLOW_TOPIC_PREFIX="$PREFIX" TASKFLOW_SCHEDULER_GROUP="$SCHED_GROUP" \
      TASKFLOW_SCHEDULER_BIND="$HOST:$port" RUST_LOG="${RUST_LOG:-info}"
    cd "$WORK"
    exec "$SCHED_BIN" >>"$SCHED_LOG" 2>&1 </dev/null 8>&- 9>&-
  ) &
  pid=$!
  SCHED_PIDS+=("$pid")
  wait_for "$BENCH_KIND-svc-scheduler-$n" 60 "$SCHED_LOG" "$pid" \
    curl -fsS -o /dev/null --max-time 3 "http://$HOST:$port/health/ready"
}
