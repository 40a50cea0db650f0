#!/usr/bin/env bash
# `make bench-peers`: TaskFlow next to a peer, River (Go, PostgreSQL only), in one run on the same
# PostgreSQL cluster, one system after the other, on the same no-op workload:
#   throughput  PEERS_TASKS (20,000) tasks submitted in batches of PEERS_BATCH (100), PEERS_INFLIGHT
#               (4) batches in flight, while the workers run: first submit -> all completed,
#               CPU seconds of every process involved, PostgreSQL commits;
#   latency     single tasks at PEERS_RATE (100) tasks/s for PEERS_LATENCY_SECS (20 s):
#               submit -> started p50/p99.
#
# River: bench/peers/river (river-bench), built with the Go toolchain (modules from the Go module
# proxy) once per source change into ~/.cache/taskflow/peers/; runs twice, with River's defaults
# (FetchCooldown 100 ms, FetchPollInterval 1 s) and tuned (FetchCooldown 1 ms, FetchPollInterval
# 10 ms), each in a throwaway database bench_river_<ts>_<config> it creates, migrates with
# rivermigrate and drops. TaskFlow: svc-tasks and one svc-executor (release builds, own databases
# taskflow_peers_<ts> and taskflow_peers_exec_<ts>, topic prefix peers-<ts>., own consumer groups;
# bench/lib.sh, shared with `make bench`), driven by bench-e2e.
#
# Both sides: warm-up (PEERS_WARMUP tasks run to completion), latency run, a pause of
# PEERS_SETTLE_SECS (11 s: PostgreSQL publishes a backend's counters up to 10 s late), then the
# throughput run; afterwards the system's processes stop, so every backend of its databases has
# flushed its counters before xact_commit is read again. CPU is utime+stime from /proc/<pid>/stat,
# read just before the first submit and right after the last completion: River = the river-bench
# process (its in-process inserter included) + the whole PostgreSQL cluster (postmaster with its
# reaped children, plus every live child); TaskFlow = svc-tasks + svc-executor + the Kafka broker
# JVM + the whole PostgreSQL cluster (bench-e2e, the load generator, is not counted; its own
# transactions on the bench databases are subtracted from the commits). The cluster, the broker and
# the machine are shared with whatever else runs (the dev services of `make up`, other work), so
# the numbers are as quiet as the machine is: the 1-minute load average is printed at the start
# and the end.
#
# Output: .taskflow/bench/peers-<ts>/ table.txt (the table), results.jsonl (raw JSON lines of
# every run), summary.json (the table's numbers), latency.png (CDF of submit -> started per
# system), latency-*.txt (the samples, µs). Cleans up on exit (BENCH_KEEP=1 keeps the TaskFlow
# databases, topics and subjects).
#
# Knobs (environment): PEERS_TASKS (20000), PEERS_BATCH (100), PEERS_INFLIGHT (4), PEERS_RATE (100),
# PEERS_LATENCY_SECS (20), PEERS_WARMUP (1000), PEERS_SETTLE_SECS (11), PEERS_WORKERS (100: River's
# MaxWorkers and TaskFlow's TASKFLOW_EXECUTOR_CONCURRENCY), PEERS_RIVER_POOL (16 connections),
# PEERS_TIMEOUT (900 s per phase), PEERS_SYSTEMS ("river-default river-tuned taskflow"),
# PEERS_PORT (18193: svc-tasks; the executor listens on +1), and svc-tasks' own
# TASKFLOW_TASKS_WORKERS (2) / TASKFLOW_TASKS_DB_POOL (16).
set -euo pipefail
# shellcheck source=deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../deploy/lib.sh"
# shellcheck source=bench/lib.sh
source "$TASKFLOW_ROOT/bench/lib.sh"

PORT="${PEERS_PORT:-18193}"
E2E_PORT="$((PORT + 1))"
TASKS="${PEERS_TASKS:-20000}"
BATCH="${PEERS_BATCH:-100}"
INFLIGHT="${PEERS_INFLIGHT:-4}"
RATE="${PEERS_RATE:-100}"
LATENCY_SECS="${PEERS_LATENCY_SECS:-20}"
WARMUP="${PEERS_WARMUP:-1000}"
SETTLE="${PEERS_SETTLE_SECS:-11}"
E2E_EXEC_CONC="${PEERS_WORKERS:-100}"
RIVER_POOL="${PEERS_RIVER_POOL:-16}"
TIMEOUT="${PEERS_TIMEOUT:-900}"
SYSTEMS="${PEERS_SYSTEMS:-river-default river-tuned taskflow}"
WORKERS="${TASKFLOW_TASKS_WORKERS:-2}"
DB_POOL="${TASKFLOW_TASKS_DB_POOL:-16}"
for v in TASKS BATCH INFLIGHT RATE LATENCY_SECS WARMUP SETTLE E2E_EXEC_CONC RIVER_POOL TIMEOUT PORT; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer, got '${!v}'"
done
((TASKS > 0 && BATCH > 0 && INFLIGHT > 0 && RATE > 0 && E2E_EXEC_CONC > 0)) ||
  die "PEERS_TASKS, PEERS_BATCH, PEERS_INFLIGHT, PEERS_RATE and PEERS_WORKERS must be positive"
LATENCY_TASKS=$((RATE * LATENCY_SECS))

TS="$(date -u +%Y%m%d-%H%M%S)"
bench_init peers "$TS"
E2E_GEN="$TARGET/release/bench-e2e"
REPORT_BIN="$TARGET/release/bench-peers-report"
CHART_BIN="$TARGET/release/bench-chart"
OUT="$STATE_DIR/bench/peers-$TS"
RESULTS="$OUT/results.jsonl"
RIVER_SRC="$TASKFLOW_ROOT/bench/peers/river"
RIVER_DBS=()
CLK_TCK="$(getconf CLK_TCK 2>/dev/null || echo 100)"
T0="$(now_ms)"

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  bench_cleanup_services
  local db
  for db in "${RIVER_DBS[@]}"; do # river-bench drops its own; this is for an interrupted run
    pg_psql -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 ||
      warn "could not drop database $db"
  done
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

load1() { cut -d' ' -f1 /proc/loadavg; }

# Builds bench/peers/river into the cache, keyed by its sources, unless that binary exists.
river_build() {
  command -v go >/dev/null || die "the Go toolchain (go) is needed to build the River side (bench/peers/river)"
  local hash dir
  hash="$(cat "$RIVER_SRC/go.mod" "$RIVER_SRC/go.sum" "$RIVER_SRC/main.go" | sha256sum | cut -c1-12)"
  dir="$CACHE_DIR/peers"
  RIVER_BIN="$dir/river-bench-$hash"
  [[ -x "$RIVER_BIN" ]] && return 0
  info "building river-bench (Go; modules from the Go module proxy) into $dir"
  mkdir -p "$dir"
  (cd "$RIVER_SRC" && go build -trimpath -buildvcs=false -o "$RIVER_BIN.tmp.$$" .) ||
    { rm -f "$RIVER_BIN.tmp.$$"; die "go build in bench/peers/river failed"; }
  find "$dir" -maxdepth 1 -name 'river-bench-*' ! -name "river-bench-$hash*" -delete
  mv -f "$RIVER_BIN.tmp.$$" "$RIVER_BIN"
}

# river_run CONFIG: one River configuration (default, tuned) in its own database.
river_run() {
  local config="$1" db="bench_river_${TS//-/_}_$1"
  RIVER_DBS+=("$db")
  info "River $config: database $db, $E2E_EXEC_CONC workers; $WARMUP warm-up jobs, $LATENCY_TASKS at $RATE/s, ${SETTLE}s pause, $TASKS in batches of $BATCH"
  # DATABASE_URL_ADMIN comes from dev.env (exported), not from the command line.
  "$RIVER_BIN" -db "$db" -config "$config" -workers "$E2E_EXEC_CONC" -pool "$RIVER_POOL" \
    -tasks "$TASKS" -batch "$BATCH" -inflight "$INFLIGHT" -warmup "$WARMUP" \
    -rate "$RATE" -latency-secs "$LATENCY_SECS" -settle-secs "$SETTLE" -timeout-secs "$TIMEOUT" \
    -pg-postmaster "$PG_PID" -clk-tck "$CLK_TCK" -samples-out "$OUT/latency-river-$config.txt" \
    >>"$RESULTS" || die "river-bench ($config) failed"
}

# Sessions connected to any of the databases given.
backends() {
  local list
  list="$(printf "'%s'," "$@")"
  pg_psql -d postgres -At -c "SELECT count(*) FROM pg_stat_activity WHERE datname IN (${list%,})"
}

taskflow_run() {
  local label="1 executor" kafka_pid n
  kafka_pid="$(our_pid kafka)" || die "the Kafka broker of make up is not running"
  bench_create_db
  bench_create_exec_db
  bench_start_svc_tasks
  bench_start_executor 1
  bench_create_tenant peers-latency
  local latency_key="$TENANT_KEY"
  bench_create_tenant peers-throughput
  local throughput_key="$TENANT_KEY"
  # Database URLs and keys through the environment, not the command line.
  export BENCH_TASKS_DB_URL BENCH_EXECUTOR_DB_URL BENCH_ADMIN_DB_URL
  BENCH_TASKS_DB_URL="$(pg_url "$DB")"
  BENCH_EXECUTOR_DB_URL="$(pg_url "$EXEC_DB")"
  BENCH_ADMIN_DB_URL="$(pg_url postgres)"

  info "TaskFlow: $WARMUP warm-up tasks, then $LATENCY_TASKS single POST /v1/tasks at $RATE/s"
  BENCH_API_KEY="$latency_key" "$E2E_GEN" --url "$URL" --label "$label" --phase latency --json \
    --single --rate "$RATE" --concurrency 16 --tasks "$LATENCY_TASKS" --warmup-tasks "$WARMUP" \
    --timeout-secs "$TIMEOUT" --samples-out "$OUT/latency-taskflow.txt" >>"$RESULTS" ||
    die "bench-e2e (latency) failed"
  tail -n1 "$RESULTS" | python3 -c 'import json, sys; r = json.load(sys.stdin); print("[taskflow] latency p50 %s ms, p99 %s ms (%s samples)" % (r["p50_ms"], r["p99_ms"], r["measured"]))'

  info "TaskFlow: ${SETTLE}s pause, then $TASKS tasks in batches of $BATCH, $INFLIGHT in flight"
  sleep "$SETTLE"
  BENCH_API_KEY="$throughput_key" "$E2E_GEN" --url "$URL" --label "$label" --phase throughput --json \
    --tasks "$TASKS" --warmup-tasks 0 --batch-size "$BATCH" --concurrency "$INFLIGHT" \
    --timeout-secs "$TIMEOUT" --poll-ms 20 --clk-tck "$CLK_TCK" \
    --cpu-pid "svc-tasks=$SVC_PID" --cpu-pid "svc-executor-1=${EXEC_PIDS[0]}" --cpu-pid "kafka=$kafka_pid" \
    --pg-postmaster "$PG_PID" --stat-db "$DB" --stat-db "$EXEC_DB" >>"$RESULTS" ||
    die "bench-e2e (throughput) failed"

  # Stop the services: their backends flush their counters when they exit.
  bench_stop_services
  local deadline=$((SECONDS + 60))
  while n="$(backends "$DB" "$EXEC_DB")" && ((n > 0)); do
    if ((SECONDS > deadline)); then
      warn "$n sessions still connected to $DB/$EXEC_DB after 60 s: commits may be undercounted"
      break
    fi
    sleep 0.1
  done
  sleep 0.3 # a backend leaves pg_stat_activity just before it flushes its counters
  n="$(pg_psql -d postgres -At -c "SELECT coalesce(sum(xact_commit), 0) FROM pg_stat_database WHERE datname IN ('$DB', '$EXEC_DB')")"
  printf '{"system":"taskflow","config":"%s","phase":"commits_after","commits_after":%s}\n' "$label" "$n" >>"$RESULTS"
  python3 - "$RESULTS" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
tp = [l for l in lines if l.get("system") == "taskflow" and l.get("phase") == "throughput"][-1]
after = lines[-1]["commits_after"]
commits = after - tp["commits_before"] - tp["own_commits"]
print("[taskflow] %.0f tasks/s, %.3f CPU s per 1000 tasks, %.3f commits per task"
      % (tp["tasks_per_s"], tp["cpu_s_per_1000"], commits / tp["tasks"]))
PY
}

# --- steps ---------------------------------------------------------------------------------------

info "bench-peers $TS: making sure the infrastructure runs (deploy/up.sh)"
"$DEPLOY_DIR/up.sh" >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log" >&2; die "deploy/up.sh failed"; }
# shellcheck source=/dev/null
source "$DEV_ENV"
unset OTEL_EXPORTER_OTLP_ENDPOINT
PG_PID="$(pg_pid)" || die "cannot find the PostgreSQL postmaster of make up"

case " $SYSTEMS " in *" river-"*) river_build ;; esac
case " $SYSTEMS " in *" taskflow "*) bench_build executor ;; *) bench_build ;; esac
mkdir -p "$OUT"
: >"$RESULTS"

LOAD_START="$(load1)"
info "1-minute load average at the start: $LOAD_START ($(nproc) cores)"
for system in $SYSTEMS; do
  case "$system" in
    river-default) river_run default ;;
    river-tuned) river_run tuned ;;
    taskflow) taskflow_run ;;
    *) die "unknown system '$system' in PEERS_SYSTEMS (river-default, river-tuned, taskflow)" ;;
  esac
done
LOAD_END="$(load1)"
info "1-minute load average at the end: $LOAD_END"

{
  printf 'TaskFlow next to River, %s (git %s), %s cores, PostgreSQL 15 shared (127.0.0.1:%s)\n' \
    "$TS" "$(git -C "$TASKFLOW_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')" "$(nproc)" "$PG_PORT"
  printf 'no-op tasks; throughput: %s in batches of %s, %s in flight; latency: %s single submissions at %s/s; %s workers (River MaxWorkers, TaskFlow executor concurrency); TaskFlow: release builds, 1 executor\n\n' \
    "$TASKS" "$BATCH" "$INFLIGHT" "$LATENCY_TASKS" "$RATE" "$E2E_EXEC_CONC"
  "$REPORT_BIN" "$RESULTS" --load-start "$LOAD_START" --load-end "$LOAD_END" --json-out "$OUT/summary.json"
  printf '\nwall time: %ss\n' "$((($(now_ms) - T0) / 1000))"
} >"$OUT/table.txt" || die "bench-peers-report failed (raw results: $(rel "$RESULTS"))"

SERIES=()
for system in $SYSTEMS; do
  case "$system" in
    river-default) SERIES+=(--series "River default=$OUT/latency-river-default.txt") ;;
    river-tuned) SERIES+=(--series "River tuned=$OUT/latency-river-tuned.txt") ;;
    taskflow) SERIES+=(--series "TaskFlow, 1 executor=$OUT/latency-taskflow.txt") ;;
  esac
done
"$CHART_BIN" --out "$OUT/latency.png" "${SERIES[@]}" \
  --title "submit -> started at $RATE tasks/s, no-op tasks ($TS, load $LOAD_START)" ||
  warn "bench-chart failed: no latency.png"

printf '\n'
cat "$OUT/table.txt"
printf '\n(written to %s: table.txt, results.jsonl, summary.json, latency.png)\n' "$(rel "$OUT")"
