#!/usr/bin/env bash
# `make bench`: sustained POST /v1/tasks throughput and latency of svc-tasks, through the real
# path (PostgreSQL event log + outbox -> relay -> Kafka), and how fast the outbox drains.
#
# Starts its own svc-tasks (release build) on 127.0.0.1:$BENCH_PORT with a fresh database
# (taskflow_bench_<ts>), its own topic prefix (bench-<ts>.) and consumer group, so nothing mixes
# with the dev service on 18090 or its data. Then, for each configuration, runs the closed-loop
# generator (svc-tasks/src/bin/bench-submit.rs), waits until the outbox is empty (every
# TaskCreated acknowledged by Kafka) and reads the publish timings from the outbox table.
# Prints a table and writes it to .taskflow/bench/submit-<ts>.txt. Cleans up on exit: stops its
# svc-tasks, drops the database, deletes the bench topics, consumer group and registry subjects
# (BENCH_KEEP=1 keeps them).
#
# Knobs (environment): BENCH_PORT (18190), BENCH_DURATION (15 s), BENCH_WARMUP (3 s),
# BENCH_SINGLE_CONC ("8 32 64"), BENCH_BATCH_CONC ("4 16"), BENCH_BATCH_SIZE (100),
# BENCH_DRAIN_TIMEOUT (180 s), BENCH_TENANTS (1: every request from one tenant; n: the workers
# spread over n tenants), and svc-tasks' own TASKFLOW_TASKS_WORKERS / TASKFLOW_TASKS_DB_POOL.
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
  if [[ -n "$SVC_PID" ]] && kill -0 "$SVC_PID" 2>/dev/null; then
    info "stopping the bench svc-tasks (pid $SVC_PID)"
    stop_pid "$SVC_PID" 15
  fi
  if ((DB_CREATED)) && [[ "${BENCH_KEEP:-0}" != 1 ]]; then
    pg_psql -d postgres -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" ||
      warn "could not drop database $DB"
    bench_drop_kafka_and_subjects || warn "could not delete every bench topic/subject (prefix $PREFIX)"
  elif ((DB_CREATED)); then
    info "BENCH_KEEP=1: kept database $DB, topics and subjects with prefix $PREFIX"
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
(cd "$TASKFLOW_ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --release --quiet -p svc-tasks --bins) ||
  die "cargo build --release -p svc-tasks failed"

require_port_free bench-svc-tasks "$PORT"
pg_psql -d postgres -c "CREATE DATABASE \"$DB\"" || die "could not create database $DB"
DB_CREATED=1

ADMIN_TOKEN="$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
info "starting svc-tasks (release) on $URL: database $DB, topic prefix $PREFIX, $WORKERS HTTP workers, pool $DB_POOL"
mkdir -p "$LOG_DIR" "$OUT_DIR"
rotate_log "$SVC_LOG"
printf '\n===== %s: bench %s =====\n' "$(date -u +%FT%TZ)" "$TS" >>"$SVC_LOG"
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
