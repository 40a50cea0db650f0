#!/usr/bin/env bash
# `make bench`: sustained POST /v1/tasks throughput and latency of svc-tasks, through the real
# path (PostgreSQL event log + outbox -> relay -> Kafka), and how fast the outbox drains.
#
# Starts its own svc-tasks (release build) on 127.0.0.1:$BENCH_PORT with a fresh database
# (taskflow_bench_<ts>), its own topic prefix (bench-<ts>.) and consumer group, so nothing mixes
# with the dev service on 18090 or its data. Then, for each configuration, runs the closed-loop
# generator (bench/src/bin/bench-submit.rs), waits until the outbox is empty (every
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
# as fast as BENCH_E2E_CONC batch requests in flight go; bench/src/bin/bench-e2e/ waits
# until all are completed and reads submit -> started / done / seen-by-svc-tasks latencies from
# both databases. The executor's consumer group starts at the end of the topic, so the tasks of the
# submit runs are not executed. Its table is appended to the same report.
#
# Last, svc-notify under 1,000 and 10,000 SSE clients (bench/bench-notify.sh, its own svc-notify,
# database and topics; BENCH_NOTIFY=0 skips it; its BENCH_NOTIFY_* knobs are listed there). Its
# table goes to .taskflow/bench/notify-<ts>.txt and is appended to the same report.
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
source "$(dirname "${BASH_SOURCE[0]}")/../deploy/lib.sh"
# shellcheck source=bench/lib.sh
source "$TASKFLOW_ROOT/bench/lib.sh"

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
# Names of the databases, topics, groups, logs and binaries (bench/lib.sh).
bench_init bench "$TS"
GEN="$TARGET/release/bench-submit"
E2E_GEN="$TARGET/release/bench-e2e"
OUT_DIR="$STATE_DIR/bench"
REPORT="$OUT_DIR/submit-$TS.txt"
T0="$(now_ms)"

# --- cleanup -------------------------------------------------------------------------------------

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  bench_cleanup_services
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- steps ---------------------------------------------------------------------------------------

info "bench $TS: making sure the infrastructure runs (deploy/up.sh)"
"$DEPLOY_DIR/up.sh" >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log" >&2; die "deploy/up.sh failed"; }
# shellcheck source=/dev/null
source "$DEV_ENV"
unset OTEL_EXPORTER_OTLP_ENDPOINT

if [[ "$E2E" != 0 ]]; then bench_build executor; else bench_build; fi

require_port_free bench-svc-tasks "$PORT"
bench_create_db

mkdir -p "$OUT_DIR"
bench_start_svc_tasks

[[ "$TENANTS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_TENANTS must be a positive integer, got '$TENANTS'"
KEYS=()
for ((i = 1; i <= TENANTS; i++)); do
  name=bench
  ((TENANTS == 1)) || name="bench-$i"
  bench_create_tenant "$name"
  KEYS+=("$TENANT_KEY")
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
  # A row's publish time is that of the first relay pass whose position covers it.
  stats="$(bench_sql "WITH rows AS (
      SELECT o.id, o.created_at,
             (SELECT min(p.published_at) FROM outbox_published p WHERE p.up_to >= o.id) AS published_at
      FROM outbox o WHERE o.id > $LAST_ID)
    SELECT count(*), max(id),
      round(count(*) / greatest(extract(epoch FROM max(published_at) - min(created_at)), 0.001), 1),
      round(greatest(extract(epoch FROM max(published_at)) - $t_stop, 0), 2),
      round(1000 * extract(epoch FROM percentile_cont(0.99) WITHIN GROUP (ORDER BY published_at - created_at)), 1)
    FROM rows")" || die "reading the outbox failed"
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

# --- svc-notify: SSE clients and fan-out latency (bench/bench-notify.sh) -----------------------

# Last, after the services above are stopped so they take no CPU from it; BENCH_NOTIFY=0 skips it.
notify_part() {
  [[ "${BENCH_NOTIFY:-1}" != 0 ]] || return 0
  bench_stop_services
  BENCH_UP=0 BENCH_NOTIFY_APPEND_TO="$REPORT" "$TASKFLOW_ROOT/bench/bench-notify.sh" || die "bench/bench-notify.sh failed"
}

# --- end to end: svc-tasks -> Kafka -> svc-executor -> Kafka -> svc-tasks ------------------------

[[ "$E2E" != 0 ]] || { notify_part; exit 0; }
T_E2E="$(now_ms)"
for v in E2E_TASKS E2E_WARMUP E2E_BATCH E2E_CONC E2E_EXEC_CONC E2E_PORT E2E_TIMEOUT; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "BENCH_$v must be a non-negative integer, got '${!v}'"
done
require_port_free bench-svc-executor-1 "$E2E_PORT"
require_port_free bench-svc-executor-2 "$((E2E_PORT + 1))"
bench_create_exec_db

# The submit runs left their TaskCreated events in the topic: the executors' group starts after
# them (the group has no members yet, so its offsets can be set), and only e2e tasks get executed.
info "e2e: consumer group $EXEC_GROUP starts at the end of ${PREFIX}taskflow.tasks.requests.v1"
"$DEPLOY_DIR/kafka/cli.sh" consumer-groups --group "$EXEC_GROUP" --topic "${PREFIX}taskflow.tasks.requests.v1" \
  --reset-offsets --to-latest --execute >"$WORK/reset.log" 2>&1 ||
  die "could not set the offsets of $EXEC_GROUP: $(tail -n 5 "$WORK/reset.log")"

E2E_HEADER=""
E2E_ROWS=()
E2E_NOTES=()

# e2e_run N: one phase with N executors running, in its own tenant.
e2e_run() {
  local n="$1" key out label="$1 executor"
  ((n == 1)) || label="$n executors"
  bench_create_tenant "e2e-$n"
  key="$TENANT_KEY"
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
bench_start_executor 1
e2e_run 1
bench_start_executor 2
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

notify_part
