#!/usr/bin/env bash
# `make bench`: sustained POST /v1/tasks throughput and latency of svc-tasks, through the real
# path (PostgreSQL event log + outbox -> relay -> Kafka), and how fast the outbox drains.
#
# Starts its own svc-tasks (release build) on 127.0.0.1:$BENCH_PORT with a fresh database
# (taskflow_bench_<ts>), its own topic prefix (bench-<ts>.) and consumer group, so nothing mixes
# with the dev service on 18090 or its data. Then, for each configuration, runs the closed-loop
# generator (deploy/bench/src/bin/bench-submit.rs), waits until the outbox is empty (every
# TaskCreated acknowledged by Kafka) and reads the publish timings from the outbox table.
# Prints a table and writes it to .taskflow/bench/submit-<ts>.txt. Cleans up on exit: stops its
# svc-tasks, drops the database, deletes the bench topics, consumer group and registry subjects
# (BENCH_KEEP=1 keeps them).
#
# Then the end-to-end part (BENCH_E2E=0 skips it): noop tasks submitted in batches through the
# same svc-tasks, executed by svc-executor (release; its own fresh database taskflow_bench_exec_<ts>,
# consumer group bench-<ts>-svc-executor, same topic prefix), completions projected back into
# svc-tasks. Phase 1 runs one executor instance, phase 2 adds a second one (same database and
# group). Each phase uses its own tenant, a warm-up run to completion, then BENCH_E2E_TASKS tasks
# as fast as BENCH_E2E_CONC batch requests in flight go; deploy/bench/src/bin/bench-e2e.rs waits
# until all are completed and reads submit -> started / done / seen-by-svc-tasks latencies from
# both databases. The executor's consumer group starts at the end of the topic, so the tasks of the
# submit runs are not executed. Its table is appended to the same report.
#
# Knobs (environment): BENCH_PORT (18190), BENCH_DURATION (15 s), BENCH_WARMUP (3 s),
# BENCH_SINGLE_CONC ("8 32 64"), BENCH_BATCH_CONC ("4 16"), BENCH_BATCH_SIZE (100),
# BENCH_DRAIN_TIMEOUT (180 s), BENCH_TENANTS (1: every request from one tenant; n: the workers
# spread over n tenants), and svc-tasks' own TASKFLOW_TASKS_WORKERS / TASKFLOW_TASKS_DB_POOL;
# end-to-end: BENCH_E2E (1), BENCH_E2E_TASKS (2000 per phase), BENCH_E2E_WARMUP (100),
# BENCH_E2E_BATCH (100), BENCH_E2E_CONC (4 requests in flight), BENCH_E2E_RATE (0: unpaced; else
# tasks/s), BENCH_E2E_EXEC_CONC (32 attempts per executor), BENCH_E2E_PORT (18191 and +1 for the
# executors' health endpoints), BENCH_E2E_TIMEOUT (120 s per phase).
set -euo pipefail
# shellcheck source=deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT="${BENCH_PORT:-18190}"
DURATION="${BENCH_DURATION:-15}"
WARMUP="${BENCH_WARMUP:-3}"
SINGLE_CONC="${BENCH_SINGLE_CONC:-8 32 64}"
BATCH_CONC="${BENCH_BATCH_CONC:-4 16}"
BATCH_SIZE="${BENCH_BATCH_SIZE:-100}"
DRAIN_TIMEOUT="${BENCH_DRAIN_TIMEOUT:-180}"
TENANTS="${BENCH_TENANTS:-1}"
E2E="${BENCH_E2E:-1}"
E2E_TASKS="${BENCH_E2E_TASKS:-2000}"
E2E_WARMUP="${BENCH_E2E_WARMUP:-100}"
E2E_BATCH="${BENCH_E2E_BATCH:-100}"
E2E_CONC="${BENCH_E2E_CONC:-4}"
E2E_RATE="${BENCH_E2E_RATE:-0}"
E2E_EXEC_CONC="${BENCH_E2E_EXEC_CONC:-32}"
E2E_PORT="${BENCH_E2E_PORT:-18191}"
E2E_TIMEOUT="${BENCH_E2E_TIMEOUT:-120}"
WORKERS="${TASKFLOW_TASKS_WORKERS:-2}"
DB_POOL="${TASKFLOW_TASKS_DB_POOL:-16}"

TS="$(date -u +%Y%m%d-%H%M%S)"
DB="taskflow_bench_${TS//-/_}"
PREFIX="bench-$TS."
GROUP="bench-$TS-svc-tasks"
URL="http://$HOST:$PORT"
TARGET="${CARGO_TARGET_DIR:-$HOME/.cache/taskflow/target}"
BIN="$TARGET/release/svc-tasks"
GEN="$TARGET/release/bench-submit"
EXEC_BIN="$TARGET/release/svc-executor"
E2E_GEN="$TARGET/release/bench-e2e"
EXEC_DB="taskflow_bench_exec_${TS//-/_}"
EXEC_GROUP="bench-$TS-svc-executor"
EXEC_LOG="$LOG_DIR/bench-svc-executor.log"
EXEC_PIDS=()
EXEC_DB_CREATED=0
OUT_DIR="$STATE_DIR/bench"
REPORT="$OUT_DIR/submit-$TS.txt"
SVC_LOG="$LOG_DIR/bench-svc-tasks.log"
WORK="$(mktemp -d)"
SVC_PID=""
DB_CREATED=0
T0="$(now_ms)"

# --- cleanup -------------------------------------------------------------------------------------

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  local pid
  for pid in "${EXEC_PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      info "stopping a bench svc-executor (pid $pid)"
      stop_pid "$pid" 30
    fi
  done
  if [[ -n "$SVC_PID" ]] && kill -0 "$SVC_PID" 2>/dev/null; then
    info "stopping the bench svc-tasks (pid $SVC_PID)"
    stop_pid "$SVC_PID" 15
  fi
  if ((DB_CREATED)) && [[ "${BENCH_KEEP:-0}" != 1 ]]; then
    pg_psql -d postgres -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" ||
      warn "could not drop database $DB"
    if ((EXEC_DB_CREATED)); then
      pg_psql -d postgres -c "DROP DATABASE IF EXISTS \"$EXEC_DB\" WITH (FORCE)" ||
        warn "could not drop database $EXEC_DB"
    fi
    bench_drop_kafka_and_subjects || warn "could not delete every bench topic/subject (prefix $PREFIX)"
  elif ((DB_CREATED)); then
    info "BENCH_KEEP=1: kept database(s) $DB $( ((EXEC_DB_CREATED)) && echo "$EXEC_DB"), topics and subjects with prefix $PREFIX"
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bench_drop_kafka_and_subjects() {
  local ok=0 subject
  "$DEPLOY_DIR/kafka/cli.sh" topics --delete --if-exists --topic "${PREFIX//./\\.}.*" >/dev/null 2>&1 || ok=1
  "$DEPLOY_DIR/kafka/cli.sh" consumer-groups --delete --group "$GROUP" >/dev/null 2>&1 || true # none if never joined
  if ((EXEC_DB_CREATED)); then
    "$DEPLOY_DIR/kafka/cli.sh" consumer-groups --delete --group "$EXEC_GROUP" >/dev/null 2>&1 || true
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

# --- steps ---------------------------------------------------------------------------------------

info "bench $TS: making sure the infrastructure runs (deploy/up.sh)"
"$DEPLOY_DIR/up.sh" >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log" >&2; die "deploy/up.sh failed"; }
# shellcheck source=/dev/null
source "$DEV_ENV"
unset OTEL_EXPORTER_OTLP_ENDPOINT

info "building svc-tasks and bench-submit (release; the first time takes several minutes)"
(cd "$TASKFLOW_ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --release --quiet -p svc-tasks -p taskflow-bench --bins) ||
  die "cargo build --release -p svc-tasks failed"
if [[ "$E2E" != 0 ]]; then
  # A separate invocation: building both packages at once would unify their dependencies'
  # features and rebuild what the other build cached.
  (cd "$TASKFLOW_ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --release --quiet -p svc-executor -p taskflow-bench --bins) ||
    die "cargo build --release -p svc-executor failed"
fi

require_port_free bench-svc-tasks "$PORT"
pg_psql -d postgres -c "CREATE DATABASE \"$DB\"" || die "could not create database $DB"
DB_CREATED=1

ADMIN_TOKEN="$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
info "starting svc-tasks (release) on $URL: database $DB, topic prefix $PREFIX, $WORKERS HTTP workers, pool $DB_POOL"
mkdir -p "$LOG_DIR" "$OUT_DIR"
rotate_log "$SVC_LOG"
printf '\n===== %s: bench %s =====\n' "$(date -u +%FT%TZ)" "$TS" >>"$SVC_LOG"
# shellcheck disable=SC2030 # these exports are meant for svc-tasks' subshell only
(
  # Exported, not on a command line, so the token stays out of `ps`.
  DATABASE_URL_TASKS="$(pg_url "$DB")"
  export DATABASE_URL_TASKS TASKFLOW_ADMIN_TOKEN="$ADMIN_TOKEN" \
    TASKFLOW_TASKS_BIND="$HOST:$PORT" TASKFLOW_TASKS_WORKERS="$WORKERS" \
    TASKFLOW_TASKS_DB_POOL="$DB_POOL" TASKFLOW_TOPIC_PREFIX="$PREFIX" \
    TASKFLOW_TASKS_GROUP="$GROUP" RUST_LOG="${RUST_LOG:-info}"
  cd "$WORK"
  exec "$BIN" >>"$SVC_LOG" 2>&1 </dev/null 8>&- 9>&-
) &
SVC_PID=$!
wait_for bench-svc-tasks 60 "$SVC_LOG" "$SVC_PID" bench_ready

[[ "$TENANTS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_TENANTS must be a positive integer, got '$TENANTS'"
KEYS=()
for ((i = 1; i <= TENANTS; i++)); do
  name=bench
  ((TENANTS == 1)) || name="bench-$i"
  code="$(bench_http POST /v1/admin/tenants "$ADMIN_TOKEN" "$WORK/tenant.json" "{\"name\":\"$name\"}")"
  [[ "$code" == 201 ]] || die_with_log bench-svc-tasks "POST /v1/admin/tenants answered HTTP $code: $(head -c 300 "$WORK/tenant.json")" "$SVC_LOG"
  KEYS+=("$(python3 -c 'import json, sys; print(json.load(sys.stdin)["api_key"])' <"$WORK/tenant.json")")
done
# The generator reads the keys from the environment (comma-separated), not from its command line.
BENCH_API_KEY="$(IFS=,; printf '%s' "${KEYS[*]}")"
export BENCH_API_KEY

HEADER=""
ROWS=()
NOTES=()
LAST_ID=0

# run CONCURRENCY BATCH_SIZE: one configuration, then the drain; appends a row to ROWS.
run() {
  local conc="$1" batch="$2" out t_stop backlog left deadline stats
  info "run: batch size $batch, $conc in flight, ${WARMUP}s warm-up + ${DURATION}s"
  out="$("$GEN" --url "$URL" --concurrency "$conc" --batch-size "$batch" \
    --duration-secs "$DURATION" --warmup-secs "$WARMUP" --header 2>"$WORK/gen.err")" ||
    die "bench-submit failed: $(cat "$WORK/gen.err")"
  t_stop="$(date +%s.%N)"
  if [[ -s "$WORK/gen.err" ]]; then NOTES+=("$(cat "$WORK/gen.err")"); fi
  backlog="$(bench_backlog)" || die "GET /v1/admin/outbox failed"
  deadline=$((SECONDS + DRAIN_TIMEOUT))
  left="$backlog"
  while ((left > 0)); do
    ((SECONDS < deadline)) || die "the outbox still holds $left events ${DRAIN_TIMEOUT}s after the load stopped"
    sleep 0.1
    left="$(bench_backlog)" || left=1
  done
  # This run's TaskCreated rows: published rate from the first commit to the last Kafka ack,
  # drain = last ack after the load stopped, lag = commit -> ack per event.
  stats="$(bench_sql "SELECT count(*), max(id),
      round(count(*) / greatest(extract(epoch FROM max(published_at) - min(created_at)), 0.001), 1),
      round(greatest(extract(epoch FROM max(published_at)) - $t_stop, 0), 2),
      round(1000 * extract(epoch FROM percentile_cont(0.99) WITHIN GROUP (ORDER BY published_at - created_at)), 1)
    FROM outbox WHERE id > $LAST_ID")" || die "reading the outbox failed"
  local n max_id pub_rate drain lag99
  read -r n max_id pub_rate drain lag99 <<<"$stats"
  LAST_ID="${max_id:-$LAST_ID}"
  HEADER="$(head -n1 <<<"$out")"
  ROWS+=("$(printf '%s %8s %7s %9s %9s' "$(tail -n1 <<<"$out")" "$backlog" "$drain" "$pub_rate" "$lag99")")
  info "  $(tail -n1 <<<"$out") | $n tasks committed, backlog $backlog at stop, drained ${drain}s later"
}

LOAD="$(cut -d' ' -f1-3 /proc/loadavg)"
for c in $SINGLE_CONC; do run "$c" 1; done
for c in $BATCH_CONC; do run "$c" "$BATCH_SIZE"; done

{
  printf 'TaskFlow svc-tasks submit benchmark %s (git %s)\n' "$TS" "$(git -C "$TASKFLOW_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
  printf 'machine: %s cores, load average before the runs %s; svc-tasks release, %s HTTP workers, DB pool %s, %s partitions, %s tenant(s)\n' \
    "$(nproc)" "$LOAD" "$WORKERS" "$DB_POOL" "${TASKFLOW_TASK_PARTITIONS:-12}" "$TENANTS"
  printf 'each run: closed loop, %ss warm-up + %ss measured; noop tasks; path: event log + outbox -> relay -> Kafka\n\n' "$WARMUP" "$DURATION"
  printf '%s %8s %7s %9s %9s\n' "$HEADER" backlog drain_s pub/s lag99_ms
  printf '%s\n' "${ROWS[@]}"
  printf '\nreq/s, tasks/s, p50-max: 2xx responses completed in the measured window (latency = request to full response).\n'
  printf 'backlog: unpublished outbox rows when the load stopped; drain_s: from then until the last Kafka ack.\n'
  printf 'pub/s: the run'"'"'s tasks (warm-up included) / first outbox row to last Kafka ack.\n'
  printf 'lag99_ms: p99 of outbox created_at (its transaction'"'"'s start) -> Kafka ack, per event.\n'
  if ((${#NOTES[@]})); then printf '\n%s\n' "${NOTES[@]}"; fi
  printf '\nwall time from start to this report (infra check, build, runs, drains): %ss\n' "$((($(now_ms) - T0) / 1000))"
} >"$REPORT"
printf '\n'
cat "$REPORT"
printf '\n(written to %s)\n' "$(rel "$REPORT")"

# --- end to end: svc-tasks -> Kafka -> svc-executor -> Kafka -> svc-tasks ------------------------

[[ "$E2E" != 0 ]] || exit 0
T_E2E="$(now_ms)"
for v in E2E_TASKS E2E_WARMUP E2E_BATCH E2E_CONC E2E_EXEC_CONC E2E_PORT E2E_TIMEOUT; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "BENCH_$v must be a non-negative integer, got '${!v}'"
done
require_port_free bench-svc-executor-1 "$E2E_PORT"
require_port_free bench-svc-executor-2 "$((E2E_PORT + 1))"
pg_psql -d postgres -c "CREATE DATABASE \"$EXEC_DB\"" || die "could not create database $EXEC_DB"
EXEC_DB_CREATED=1

# The submit runs left their TaskCreated events in the topic: the executors' group starts after
# them (the group has no members yet, so its offsets can be set), and only e2e tasks get executed.
info "e2e: consumer group $EXEC_GROUP starts at the end of ${PREFIX}taskflow.tasks.requests.v1"
"$DEPLOY_DIR/kafka/cli.sh" consumer-groups --group "$EXEC_GROUP" --topic "${PREFIX}taskflow.tasks.requests.v1" \
  --reset-offsets --to-latest --execute >"$WORK/reset.log" 2>&1 ||
  die "could not set the offsets of $EXEC_GROUP: $(tail -n 5 "$WORK/reset.log")"

rotate_log "$EXEC_LOG"
printf '\n===== %s: bench %s =====\n' "$(date -u +%FT%TZ)" "$TS" >>"$EXEC_LOG"

# start_executor N: instance bench-ex-N on $E2E_PORT + N - 1, same database and group for all.
start_executor() {
  local n="$1" port=$((E2E_PORT + $1 - 1)) pid
  info "e2e: starting svc-executor bench-ex-$n (release) on $HOST:$port, database $EXEC_DB, concurrency $E2E_EXEC_CONC"
  # shellcheck disable=SC2030,SC2031 # these exports are meant for the executor's subshell only
  (
    DATABASE_URL_EXECUTOR="$(pg_url "$EXEC_DB")"
    export DATABASE_URL_EXECUTOR TASKFLOW_TOPIC_PREFIX="$PREFIX" TASKFLOW_EXECUTOR_GROUP="$EXEC_GROUP" \
      TASKFLOW_EXECUTOR_INSTANCE="bench-ex-$n" TASKFLOW_EXECUTOR_BIND="$HOST:$port" \
      TASKFLOW_EXECUTOR_CONCURRENCY="$E2E_EXEC_CONC" RUST_LOG="${RUST_LOG:-info}"
    cd "$WORK"
    exec "$EXEC_BIN" >>"$EXEC_LOG" 2>&1 </dev/null 8>&- 9>&-
  ) &
  pid=$!
  EXEC_PIDS+=("$pid")
  wait_for "bench-svc-executor-$n" 60 "$EXEC_LOG" "$pid" \
    curl -fsS -o /dev/null --max-time 3 "http://$HOST:$port/health/ready"
}

E2E_HEADER=""
E2E_ROWS=()
E2E_NOTES=()

# e2e_run N: one phase with N executors running, in its own tenant.
e2e_run() {
  local n="$1" key out label="$1 executor"
  ((n == 1)) || label="$n executors"
  code="$(bench_http POST /v1/admin/tenants "$ADMIN_TOKEN" "$WORK/tenant.json" "{\"name\":\"e2e-$n\"}")"
  [[ "$code" == 201 ]] || die "POST /v1/admin/tenants answered HTTP $code: $(head -c 300 "$WORK/tenant.json")"
  key="$(python3 -c 'import json, sys; print(json.load(sys.stdin)["api_key"])' <"$WORK/tenant.json")"
  info "e2e: $label: $E2E_WARMUP warm-up tasks, then $E2E_TASKS noop tasks in batches of $E2E_BATCH, $E2E_CONC in flight"
  out="$(BENCH_API_KEY="$key" BENCH_TASKS_DB_URL="$(pg_url "$DB")" BENCH_EXECUTOR_DB_URL="$(pg_url "$EXEC_DB")" \
    "$E2E_GEN" --url "$URL" --label "$label" --tasks "$E2E_TASKS" --warmup-tasks "$E2E_WARMUP" \
    --batch-size "$E2E_BATCH" --concurrency "$E2E_CONC" --rate "$E2E_RATE" \
    --timeout-secs "$E2E_TIMEOUT" --header 2>"$WORK/e2e.err")" ||
    die "bench-e2e ($label) failed: $(cat "$WORK/e2e.err")"
  if [[ -s "$WORK/e2e.err" ]]; then E2E_NOTES+=("$(cat "$WORK/e2e.err")"); fi
  E2E_HEADER="$(head -n1 <<<"$out")"
  E2E_ROWS+=("$(tail -n1 <<<"$out")")
  info "  $(tail -n1 <<<"$out")"
}

LOAD="$(cut -d' ' -f1-3 /proc/loadavg)"
start_executor 1
e2e_run 1
start_executor 2
# Let the group rebalance over both members before the warm-up of phase 2.
sleep 5
e2e_run 2

{
  printf '\nend to end: noop tasks, POST /v1/tasks:batch -> svc-tasks -> Kafka -> svc-executor -> Kafka -> svc-tasks\n'
  printf 'load average before: %s; svc-executor release, %s attempts per instance, one database %s shared by the instances; per phase: own tenant, %s warm-up tasks run to completion, then %s tasks in batches of %s, %s requests in flight%s\n\n' \
    "$LOAD" "$E2E_EXEC_CONC" "$EXEC_DB" "$E2E_WARMUP" "$E2E_TASKS" "$E2E_BATCH" "$E2E_CONC" \
    "$([[ "$E2E_RATE" == 0 ]] || printf ', paced to %s tasks/s' "$E2E_RATE")"
  printf '%s\n' "$E2E_HEADER"
  printf '%s\n' "${E2E_ROWS[@]}"
  printf '\nsubmit/s: tasks / time to send all batches. done/s: tasks / first request -> last attempt ended (executor DB).\n'
  printf 'seen/s: tasks / first request -> all completed in svc-tasks'"'"' projection (what GET /v1/tasks shows; polled every 100 ms).\n'
  printf 'latencies in ms from tasks.created_at (svc-tasks took the task): start = attempts.started_at, done = attempts.ended_at,\n'
  printf 'seen = task_events.recorded_at of TaskCompleted in svc-tasks, ingst = executions.created_at (executor queued it from Kafka).\n'
  printf 'The submissions outrun the executors, so the percentiles include the queueing of a backlog (a saturation run).\n'
  if ((${#E2E_NOTES[@]})); then printf '\n%s\n' "${E2E_NOTES[@]}"; fi
  printf '\nwall time of the end-to-end part: %ss; of the whole bench: %ss\n' "$((($(now_ms) - T_E2E) / 1000))" "$((($(now_ms) - T0) / 1000))"
} >"$WORK/e2e.txt"
cat "$WORK/e2e.txt" >>"$REPORT"
cat "$WORK/e2e.txt"
printf '\n(appended to %s)\n' "$(rel "$REPORT")"
