#!/usr/bin/env bash
# svc-notify under many SSE clients (the last part of `make bench`; runs on its own too, ~2 min):
# how many `GET /v1/stream` connections one instance holds, its RSS per 1,000 clients, and the
# fan-out latency of every (client, event) pair at a steady event rate, for 1,000 and 10,000
# clients (bench/src/bin/bench-notify/ says how each number is taken).
#
# Starts its own svc-notify (release build) on 127.0.0.1:$BENCH_NOTIFY_PORT with a fresh database
# (taskflow_bench_notify_<ts>), its own topic prefix (bench-notify-<ts>.) and consumer group, so
# nothing mixes with the dev svc-notify on 18095. The bench announces its own API key on the keys
# topic and publishes the task events itself: svc-tasks and svc-executor are not involved.
# Prints a table and writes it to .taskflow/bench/notify-<ts>.txt; svc-notify's log goes to
# .taskflow/bench/notify-svc-notify.log. Cleans up on exit: stops its svc-notify, drops the
# database, deletes the topics, consumer group and registry subjects (BENCH_KEEP=1 keeps them).
#
# Both processes need a file descriptor per client: the soft limit is raised to the hard one.
#
# Knobs (environment): BENCH_NOTIFY_CLIENTS ("1000 10000"), BENCH_NOTIFY_RATE (200 events/s),
# BENCH_NOTIFY_DURATION (20 s measured per phase), BENCH_NOTIFY_WARMUP (100 events per phase),
# BENCH_NOTIFY_TASKS (20 tasks the events are spread over), BENCH_NOTIFY_CONNECT (200 streams
# opened at once), BENCH_NOTIFY_DRAIN (15 s for the clients to catch up after the last commit),
# BENCH_NOTIFY_PORT (18196), BENCH_UP (1; 0 skips deploy/up.sh when the caller just ran it),
# BENCH_NOTIFY_APPEND_TO (a report the table is appended to as well: bench/bench.sh's), and
# svc-notify's own TASKFLOW_NOTIFY_WORKERS (2), TASKFLOW_NOTIFY_CLIENT_BUFFER (1024),
# TASKFLOW_NOTIFY_MAX_CONNECTIONS (25000 per worker), TASKFLOW_NOTIFY_DB_POOL (16).
set -euo pipefail
# shellcheck source=deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../deploy/lib.sh"
# shellcheck source=bench/lib.sh
source "$TASKFLOW_ROOT/bench/lib.sh"

PORT="${BENCH_NOTIFY_PORT:-18196}"
CLIENTS="${BENCH_NOTIFY_CLIENTS:-1000 10000}"
RATE="${BENCH_NOTIFY_RATE:-200}"
DURATION="${BENCH_NOTIFY_DURATION:-20}"
WARMUP="${BENCH_NOTIFY_WARMUP:-100}"
TASKS="${BENCH_NOTIFY_TASKS:-20}"
CONNECT="${BENCH_NOTIFY_CONNECT:-200}"
DRAIN="${BENCH_NOTIFY_DRAIN:-15}"
WORKERS="${TASKFLOW_NOTIFY_WORKERS:-2}"
CLIENT_BUFFER="${TASKFLOW_NOTIFY_CLIENT_BUFFER:-1024}"
MAX_CONNECTIONS="${TASKFLOW_NOTIFY_MAX_CONNECTIONS:-25000}"
DB_POOL="${TASKFLOW_NOTIFY_DB_POOL:-16}"
for v in PORT RATE DURATION WARMUP TASKS CONNECT DRAIN WORKERS CLIENT_BUFFER MAX_CONNECTIONS DB_POOL; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer, got '${!v}'"
done
[[ "$CLIENTS" =~ ^[0-9]+([ ,]+[0-9]+)*$ ]] || die "BENCH_NOTIFY_CLIENTS must be numbers, got '$CLIENTS'"
CLIENTS="$(tr -s ' ,' ',' <<<"$CLIENTS")"

TS="$(date -u +%Y%m%d-%H%M%S)"
# The names bench/lib.sh's cleanup helpers expect (bench_init is svc-tasks' set-up).
BENCH_KIND=bench-notify
DB="taskflow_bench_notify_${TS//-/_}"
PREFIX="bench-notify-$TS."
GROUP="bench-notify-$TS-svc-notify"
EXEC_DB_CREATED=0
DB_CREATED=0
TARGET="${CARGO_TARGET_DIR:-$HOME/.cache/taskflow/target}"
BIN="$TARGET/release/svc-notify"
GEN="$TARGET/release/bench-notify"
URL="http://$HOST:$PORT"
OUT_DIR="$STATE_DIR/bench"
REPORT="$OUT_DIR/notify-$TS.txt"
NOTIFY_LOG="$OUT_DIR/notify-svc-notify.log"
WORK="$(mktemp -d)"
NOTIFY_PID=""
T0="$(now_ms)"

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n "$NOTIFY_PID" ]] && kill -0 "$NOTIFY_PID" 2>/dev/null; then
    info "stopping the bench svc-notify (pid $NOTIFY_PID)"
    stop_pid "$NOTIFY_PID" 15
  fi
  if ((DB_CREATED)) && [[ "${BENCH_KEEP:-0}" != 1 ]]; then
    pg_psql -d postgres -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" || warn "could not drop database $DB"
    bench_drop_kafka_and_subjects || warn "could not delete every bench-notify topic/subject (prefix $PREFIX)"
  elif ((DB_CREATED)); then
    info "BENCH_KEEP=1: kept database $DB, topics and subjects with prefix $PREFIX"
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ "${BENCH_UP:-1}" != 0 ]]; then
  info "bench-notify $TS: making sure the infrastructure runs (deploy/up.sh)"
  "$DEPLOY_DIR/up.sh" >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log" >&2; die "deploy/up.sh failed"; }
fi
[[ -f "$DEV_ENV" ]] || die "$(rel "$DEV_ENV") is missing: run make up first"
# shellcheck source=/dev/null
source "$DEV_ENV"
unset OTEL_EXPORTER_OTLP_ENDPOINT

# One descriptor per client in both processes, plus their own (pool, Kafka, files).
most=0
for n in ${CLIENTS//,/ }; do ((n > most)) && most=$n; done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [[ "$(ulimit -n)" != unlimited ]] && (($(ulimit -n) < most + 200)); then
  die "open files limit $(ulimit -n) (hard $(ulimit -Hn)) is too low for $most clients: lower BENCH_NOTIFY_CLIENTS"
fi

info "building svc-notify and bench-notify (release; the first time takes several minutes)"
# Two invocations: svc-notify alone unifies features as `make up`'s build does, so its cache is shared.
(cd "$TASKFLOW_ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --release --quiet -p svc-notify) ||
  die "cargo build --release -p svc-notify failed"
(cd "$TASKFLOW_ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --release --quiet -p taskflow-bench --bin bench-notify) ||
  die "cargo build --release --bin bench-notify failed"

require_port_free bench-notify-svc-notify "$PORT"
pg_psql -d postgres -c "CREATE DATABASE \"$DB\"" || die "could not create database $DB"
DB_CREATED=1

mkdir -p "$OUT_DIR"
rotate_log "$NOTIFY_LOG"
printf '\n===== %s: bench-notify %s =====\n' "$(date -u +%FT%TZ)" "$TS" >>"$NOTIFY_LOG"
info "starting svc-notify (release) on $URL: database $DB, topic prefix $PREFIX, $WORKERS HTTP workers, client buffer $CLIENT_BUFFER"
# shellcheck disable=SC2030,SC2031 # these exports are meant for svc-notify's subshell only
(
  # Exported, not on a command line, so the database password stays out of `ps`.
  DATABASE_URL_NOTIFY="$(pg_url "$DB")"
  export DATABASE_URL_NOTIFY TASKFLOW_TOPIC_PREFIX="$PREFIX" TASKFLOW_NOTIFY_GROUP="$GROUP" \
    TASKFLOW_NOTIFY_BIND="$HOST:$PORT" TASKFLOW_NOTIFY_WORKERS="$WORKERS" \
    TASKFLOW_NOTIFY_CLIENT_BUFFER="$CLIENT_BUFFER" TASKFLOW_NOTIFY_MAX_CONNECTIONS="$MAX_CONNECTIONS" \
    TASKFLOW_NOTIFY_DB_POOL="$DB_POOL" RUST_LOG="${RUST_LOG:-info}"
  cd "$WORK"
  exec "$BIN" >>"$NOTIFY_LOG" 2>&1 </dev/null 8>&- 9>&-
) &
NOTIFY_PID=$!
wait_for bench-notify-svc-notify 60 "$NOTIFY_LOG" "$NOTIFY_PID" curl -fsS -o /dev/null --max-time 3 "$URL/health/ready"

LOAD="$(cut -d' ' -f1-3 /proc/loadavg)"
info "clients per phase: ${CLIENTS//,/, }; $RATE events/s for ${DURATION}s each"
TABLE="$(TASKFLOW_TOPIC_PREFIX="$PREFIX" "$GEN" --url "$URL" --pid "$NOTIFY_PID" --clients "$CLIENTS" \
  --rate "$RATE" --duration-secs "$DURATION" --warmup-events "$WARMUP" --tasks "$TASKS" \
  --connect-concurrency "$CONNECT" --drain-secs "$DRAIN" --clk-tck "$(getconf CLK_TCK)")" ||
  die_with_log bench-notify "bench-notify failed (svc-notify's log below)" "$NOTIFY_LOG"
kill -0 "$NOTIFY_PID" 2>/dev/null || die_with_log bench-notify "svc-notify exited during the run" "$NOTIFY_LOG"

{
  printf 'TaskFlow svc-notify fan-out benchmark %s (git %s)\n' "$TS" "$(git -C "$TASKFLOW_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
  printf 'machine: %s cores, load average before %s; one svc-notify (release, %s HTTP workers, client buffer %s, DB pool %s),\n' \
    "$(nproc)" "$LOAD" "$WORKERS" "$CLIENT_BUFFER" "$DB_POOL"
  printf 'one tenant, every client on GET /v1/stream (SSE, API key); per phase %s warm-up events, then %s TaskProgressUpdated/s for %ss over %s tasks\n\n' \
    "$WARMUP" "$RATE" "$DURATION" "$TASKS"
  printf '%s\n' "$TABLE"
  printf '\nRSS: VmRSS of svc-notify before the phase'"'"'s streams open, once all are open (per 1,000 = growth / clients), after the events\n'
  printf '(all still open) and after every client hung up. Latencies over every (client, event) pair, receipt = when the client read the bytes:\n'
  printf 'commit->client from recorded_at (svc-notify'"'"'s ingest transaction start, at or before its commit: slightly pessimistic);\n'
  printf 'publish->client from occurred_at (set when the bench published the event, ms): Kafka, ingest and fan-out; publish->commit is per event.\n'
  printf 'CPU: %% of one core over the measured run and the drain (bench = the client process holding every stream); machine busy counts\n'
  printf 'every process on every core (Kafka, PostgreSQL, anything else running): a starved client reads late too. too-slow: svc-notify cut off\n'
  printf 'a client more than TASKFLOW_NOTIFY_CLIENT_BUFFER notifications behind; such streams are not reopened here. A client missing events\n'
  printf 'received fewer than all within %ss after the last commit. Connections held: svc-notify'"'"'s descriptors of client connections.\n' "$DRAIN"
  printf '\nwall time (infra check, build, runs): %ss\n' "$((($(now_ms) - T0) / 1000))"
} >"$REPORT"
printf '\n'
cat "$REPORT"
printf '\n(written to %s)\n' "$(rel "$REPORT")"
if [[ -n "${BENCH_NOTIFY_APPEND_TO:-}" ]]; then
  { printf '\n'; cat "$REPORT"; } >>"$BENCH_NOTIFY_APPEND_TO"
  printf '(appended to %s)\n' "$(rel "$BENCH_NOTIFY_APPEND_TO")"
fi
