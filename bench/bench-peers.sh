#!/usr/bin/env bash
# `make bench-peers`: TaskFlow next to two peers, River (Go, PostgreSQL only) and Temporal (Go
# server + Go SDK, PostgreSQL persistence), in one run on the same PostgreSQL cluster, one system
# after the other, on the same no-op workload, in this order for each system:
#   1. warm-up      PEERS_WARMUP (1,000) tasks run to completion (not measured);
#   2. latency      single tasks at PEERS_RATE (100) tasks/s for PEERS_LATENCY_SECS (20 s):
#                   submit -> started p50/p99, and the CPU of every process involved from the
#                   first submit to the last task completed (TaskFlow: and every follower caught
#                   up), per task;
#   3. pause        PEERS_SETTLE_SECS (11 s: PostgreSQL publishes a backend's counters up to 10 s
#                   late);
#   4. throughput   PEERS_TASKS (20,000) tasks submitted in batches of PEERS_BATCH (100),
#                   PEERS_INFLIGHT (4) batches in flight, while the workers run: first submit ->
#                   all completed, CPU seconds of every process involved, PostgreSQL commits, row
#                   writes, WAL bytes and database growth; the counters are read PEERS_SETTLE_SECS
#                   after the run was done ("flushed"), with the system still running;
#   5. after burst  once PEERS_AFTER_BURST_WAIT (30) s have passed since the run's last completion
#                   (and at least 5 s after "flushed"; the system idles meanwhile: its counters at
#                   the end of that, "idle_end", give its idle rate), the latency run of 2 again
#                   for PEERS_AFTER_BURST_SECS (10 s): submit -> started p50/p99 (no CPU);
#   6. single       PEERS_SINGLE_TASKS (3,000) tasks, one per request (River: Client.Insert;
#                   Temporal: ExecuteWorkflow; TaskFlow: POST /v1/tasks), PEERS_SINGLE_INFLIGHT (16)
#                   in flight, no rate limit, while the workers run: tasks / first request ->
#                   last response;
#   then the system's processes stop.
#
# River: bench/peers/river (river-bench), built with the Go toolchain (modules from the Go module
# proxy) once per source change into ~/.cache/taskflow/peers/; runs twice, with River's defaults
# (FetchCooldown 100 ms, FetchPollInterval 1 s) and tuned (FetchCooldown 1 ms, FetchPollInterval
# 10 ms), each in a throwaway database bench_river_<ts>_<config> it creates, migrates with
# rivermigrate and drops.
#
# Temporal: the server (go.temporal.io/server/cmd/server, PEERS_TEMPORAL_VERSION v1.32.1: the
# newest v1.32 whose go.mod the local Go 1.26.8 accepts; v1.32.2 needs GOTOOLCHAIN=go1.26.10 or
# newer) and its schema tool (cmd/tools/sql), `go install`ed with CGO_ENABLED=0 from the Go module
# proxy once per version into ~/.cache/taskflow/peers/temporal-server-<version>/, and
# bench/peers/temporal (temporal-bench: load generator and worker in one process, Go SDK v1.51.0;
# one workflow with one no-op activity per task) built like river-bench. Runs twice, "default"
# (PEERS_TEMPORAL_SHARDS 4 history shards, the server's defaults, the SDK's 2+2 pollers) and
# "tuned" (PEERS_TEMPORAL_TUNED_SHARDS 16, bench/peers/temporal/tuned.yaml: rate limits raised,
# one task queue partition; more connections and pollers, eager workflow start), each with its
# own server process (bench/peers/temporal/server.yaml, all four services, loopback ports from
# PEERS_TEMPORAL_PORT) on two throwaway databases bench_temporal_<ts>_<config>{,_vis} the script
# creates, gives Temporal's schemas (temporal-sql-tool, postgres12) and drops. temporal-bench
# measures like river-bench; completion is the visibility table showing every workflow completed.
#
# TaskFlow: the whole product as `make up` runs it (release builds): svc-tasks, as many
# svc-executors as `make up` runs now (TASKFLOW_EXECUTORS of dev.env, 1 when unset), svc-notify and
# as many svc-schedulers (TASKFLOW_SCHEDULERS), every setting at the service's default (executor
# concurrency 16 today) unless a knob below says otherwise; each service with its own databases
# taskflow_peers{,_exec,_notify,_sched}_<ts>, topic prefix peers-<ts>. and its own consumer groups
# (bench/lib.sh, shared with `make bench`), driven by bench-e2e.
#
# CPU (the latency and throughput runs) is utime+stime from /proc/<pid>/stat, read just before the
# first submit and right after the last completion: River = the river-bench process (its in-process
# inserter included) + the whole PostgreSQL cluster (postmaster with its reaped children, plus every
# live child); Temporal = the temporal-bench process + the server process + the whole cluster;
# TaskFlow = every TaskFlow process + the Kafka broker JVM + the whole PostgreSQL cluster
# (bench-e2e, the load generator, is not counted; its own transactions on the bench databases are
# subtracted from the commits). TaskFlow's CPU is read a second time once svc-notify's projection
# has every task finished and no outbox holds an unpublished row ("until settled"): the followers'
# backlog counts there; in the latency run, its CPU counts until then. PostgreSQL snapshots (WAL
# position, database sizes, table counters, xact_commit) are taken when the pause starts, before the
# first submit, when settled (River, Temporal: at the last completion), PEERS_SETTLE_SECS later
# ("flushed": every backend has published the run's counters by then) and just before the run after
# the burst ("idle_end"); bench-peers-report turns them into commits and row writes per task (each
# system's own databases: flushed - before, minus what the idle system did between settled and
# flushed, at its rate from flushed to idle_end; the load generators' own transactions subtracted),
# WAL bytes per task (the whole cluster: anything else writing counts too) and database growth per
# 1,000 tasks, and writes the per-table row writes to row-writes.txt. The cluster, the broker and
# the machine are shared with whatever else runs (the dev services of `make up`, other work), so the
# numbers are as quiet as the machine is: the 1-minute load average is printed at the start and the
# end.
#
# Output: .taskflow/bench/peers-<ts>/ table.txt (the table), row-writes.txt (row writes per task
# by table, every system), results.jsonl (raw JSON lines of every run), summary.json (the table's
# numbers), latency.png (CDF of submit -> started per system, the run before the burst),
# latency-*.txt and latency-after-burst-*.txt (the samples, µs).
# Cleans up on exit (BENCH_KEEP=1 keeps the TaskFlow databases, topics and subjects).
#
# Knobs (environment): PEERS_TASKS (20000), PEERS_BATCH (100), PEERS_INFLIGHT (4), PEERS_RATE (100),
# PEERS_LATENCY_SECS (20), PEERS_WARMUP (1000), PEERS_SETTLE_SECS (11), PEERS_AFTER_BURST_WAIT (30),
# PEERS_AFTER_BURST_SECS (10; 0: no run after the burst), PEERS_SINGLE_TASKS (3000; 0: no single
# phase), PEERS_SINGLE_INFLIGHT (16), PEERS_WORKERS (empty:
# the executor's own default, as under `make up`; a number sets TASKFLOW_EXECUTOR_CONCURRENCY),
# PEERS_EXECUTORS / PEERS_SCHEDULERS (default: what `make up` runs, from dev.env),
# PEERS_RIVER_WORKERS (100: River's MaxWorkers), PEERS_RIVER_POOL (16 connections),
# PEERS_TEMPORAL_WORKERS (100: the Temporal worker's workflow task and activity slots, each),
# PEERS_TEMPORAL_VERSION (v1.32.1), PEERS_TEMPORAL_PORT (17233: frontend; history +1, matching +2,
# worker +3, HTTP +4, membership +10..+13), PEERS_TEMPORAL_SHARDS (4), PEERS_TEMPORAL_TUNED_SHARDS
# (16), PEERS_TEMPORAL_TUNED_POLLERS (8 workflow + 8 activity pollers), PEERS_TIMEOUT (900 s per
# phase), PEERS_SYSTEMS ("river-default river-tuned temporal-default temporal-tuned taskflow";
# the Temporal server's log goes to .taskflow/logs/peers-temporal-<config>.log), PEERS_PORT (18193:
# svc-tasks; executor n listens on +n), PEERS_FOLLOW_PORT (18180: svc-notify; scheduler n on +n),
# and svc-tasks' own TASKFLOW_TASKS_WORKERS / TASKFLOW_TASKS_DB_POOL (empty: its defaults).
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
AFTER_WAIT="${PEERS_AFTER_BURST_WAIT:-30}"
AFTER_SECS="${PEERS_AFTER_BURST_SECS:-10}"
SINGLE_TASKS="${PEERS_SINGLE_TASKS:-3000}"
SINGLE_INFLIGHT="${PEERS_SINGLE_INFLIGHT:-16}"
E2E_EXEC_CONC="${PEERS_WORKERS:-}"
RIVER_WORKERS="${PEERS_RIVER_WORKERS:-100}"
FOLLOW_PORT="${PEERS_FOLLOW_PORT:-18180}"
RIVER_POOL="${PEERS_RIVER_POOL:-16}"
TIMEOUT="${PEERS_TIMEOUT:-900}"
SYSTEMS="${PEERS_SYSTEMS:-river-default river-tuned temporal-default temporal-tuned taskflow}"
TEMPORAL_VERSION="${PEERS_TEMPORAL_VERSION:-v1.32.1}"
TEMPORAL_WORKERS="${PEERS_TEMPORAL_WORKERS:-100}"
TEMPORAL_PORT="${PEERS_TEMPORAL_PORT:-17233}"
TEMPORAL_SHARDS="${PEERS_TEMPORAL_SHARDS:-4}"
TEMPORAL_TUNED_SHARDS="${PEERS_TEMPORAL_TUNED_SHARDS:-16}"
TEMPORAL_TUNED_POLLERS="${PEERS_TEMPORAL_TUNED_POLLERS:-8}"
WORKERS="${TASKFLOW_TASKS_WORKERS:-}"
DB_POOL="${TASKFLOW_TASKS_DB_POOL:-}"
for v in TASKS BATCH INFLIGHT RATE LATENCY_SECS WARMUP SETTLE AFTER_WAIT AFTER_SECS SINGLE_TASKS SINGLE_INFLIGHT RIVER_WORKERS RIVER_POOL TIMEOUT PORT FOLLOW_PORT \
  TEMPORAL_WORKERS TEMPORAL_PORT TEMPORAL_SHARDS TEMPORAL_TUNED_SHARDS TEMPORAL_TUNED_POLLERS; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer, got '${!v}'"
done
[[ -z "$E2E_EXEC_CONC" || "$E2E_EXEC_CONC" =~ ^[1-9][0-9]*$ ]] ||
  die "PEERS_WORKERS must be empty (the executor's default) or a positive integer, got '$E2E_EXEC_CONC'"
((TASKS > 0 && BATCH > 0 && INFLIGHT > 0 && RATE > 0 && RIVER_WORKERS > 0 && SINGLE_INFLIGHT > 0)) ||
  die "PEERS_TASKS, PEERS_BATCH, PEERS_INFLIGHT, PEERS_RATE, PEERS_RIVER_WORKERS and PEERS_SINGLE_INFLIGHT must be positive"
((TEMPORAL_WORKERS > 1 && TEMPORAL_SHARDS > 0 && TEMPORAL_TUNED_SHARDS > 0 && TEMPORAL_TUNED_POLLERS > 1)) ||
  die "PEERS_TEMPORAL_WORKERS and PEERS_TEMPORAL_TUNED_POLLERS must be at least 2, the shard counts positive"
[[ "$TEMPORAL_VERSION" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "PEERS_TEMPORAL_VERSION must look like v1.32.1, got '$TEMPORAL_VERSION'"
LATENCY_TASKS=$((RATE * LATENCY_SECS))
AFTER_TASKS=$((RATE * AFTER_SECS))

TS="$(date -u +%Y%m%d-%H%M%S)"
bench_init peers "$TS"
E2E_GEN="$TARGET/release/bench-e2e"
REPORT_BIN="$TARGET/release/bench-peers-report"
CHART_BIN="$TARGET/release/bench-chart"
OUT="$STATE_DIR/bench/peers-$TS"
RESULTS="$OUT/results.jsonl"
RIVER_SRC="$TASKFLOW_ROOT/bench/peers/river"
RIVER_DBS=()
TEMPORAL_SRC="$TASKFLOW_ROOT/bench/peers/temporal"
# What both load generators measure alike (a Go module of its own, required by both).
MEASURE_SRC="$TASKFLOW_ROOT/bench/peers/measure"
TEMPORAL_DBS=()
TEMPORAL_PID=""
CLK_TCK="$(getconf CLK_TCK 2>/dev/null || echo 100)"
T0="$(now_ms)"

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  bench_cleanup_services
  if [[ -n "$TEMPORAL_PID" ]]; then # temporal-bench stops it; this is for an interrupted run
    kill -TERM "$TEMPORAL_PID" 2>/dev/null || true
    wait "$TEMPORAL_PID" 2>/dev/null || true
  fi
  local db
  for db in "${RIVER_DBS[@]}" "${TEMPORAL_DBS[@]}"; do # river-bench drops its own; this is for an interrupted run
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
  hash="$(cat "$RIVER_SRC/go.mod" "$RIVER_SRC/go.sum" "$RIVER_SRC/main.go" "$MEASURE_SRC/go.mod" "$MEASURE_SRC"/*.go | sha256sum | cut -c1-12)"
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
  info "River $config: database $db, $RIVER_WORKERS workers; $WARMUP warm-up jobs, $LATENCY_TASKS at $RATE/s, ${SETTLE}s pause, $TASKS in batches of $BATCH, $AFTER_TASKS at $RATE/s ${AFTER_WAIT}s after, $SINGLE_TASKS single inserts"
  # DATABASE_URL_ADMIN comes from dev.env (exported), not from the command line.
  "$RIVER_BIN" -db "$db" -config "$config" -workers "$RIVER_WORKERS" -pool "$RIVER_POOL" \
    -tasks "$TASKS" -batch "$BATCH" -inflight "$INFLIGHT" -warmup "$WARMUP" \
    -rate "$RATE" -latency-secs "$LATENCY_SECS" -settle-secs "$SETTLE" -timeout-secs "$TIMEOUT" \
    -pg-postmaster "$PG_PID" -clk-tck "$CLK_TCK" -samples-out "$OUT/latency-river-$config.txt" \
    -after-burst-wait "$AFTER_WAIT" -after-burst-secs "$AFTER_SECS" \
    -after-burst-samples-out "$OUT/latency-after-burst-river-$config.txt" \
    -single-tasks "$SINGLE_TASKS" -single-inflight "$SINGLE_INFLIGHT" \
    >>"$RESULTS" || die "river-bench ($config) failed"
}

# Builds the Temporal server and its schema tool (go install from the Go module proxy, once per
# version) and bench/peers/temporal (keyed by its sources) into the cache, unless they exist.
temporal_build() {
  command -v go >/dev/null || die "the Go toolchain (go) is needed to build the Temporal side (bench/peers/temporal)"
  local dir="$CACHE_DIR/peers" hash tmp
  TEMPORAL_SERVER_DIR="$dir/temporal-server-$TEMPORAL_VERSION"
  mkdir -p "$dir"
  if [[ ! -x "$TEMPORAL_SERVER_DIR/server" || ! -x "$TEMPORAL_SERVER_DIR/sql" ]]; then
    info "building the Temporal server $TEMPORAL_VERSION and its schema tool (go install, CGO_ENABLED=0, modules from the Go module proxy; ~220 modules, the first time takes 15+ minutes on 2 cores) into $TEMPORAL_SERVER_DIR"
    tmp="$TEMPORAL_SERVER_DIR.tmp.$$"
    # Outside any module (the server's own go.mod rules, replace directives there would fail it).
    (cd "$WORK" && CGO_ENABLED=0 GOBIN="$tmp" go install -trimpath -ldflags=-s \
      "go.temporal.io/server/cmd/server@$TEMPORAL_VERSION" "go.temporal.io/server/cmd/tools/sql@$TEMPORAL_VERSION") ||
      { rm -rf "$tmp"; die "go install of the Temporal server $TEMPORAL_VERSION failed (a newer v1.32 may need GOTOOLCHAIN=go1.26.10 or newer)"; }
    find "$dir" -maxdepth 1 -name 'temporal-server-*' ! -name "temporal-server-$TEMPORAL_VERSION" -exec rm -rf {} +
    mv -f "$tmp" "$TEMPORAL_SERVER_DIR"
  fi
  hash="$(cat "$TEMPORAL_SRC/go.mod" "$TEMPORAL_SRC/go.sum" "$TEMPORAL_SRC/main.go" "$MEASURE_SRC/go.mod" "$MEASURE_SRC"/*.go | sha256sum | cut -c1-12)"
  TEMPORAL_BIN="$dir/temporal-bench-$hash"
  [[ -x "$TEMPORAL_BIN" ]] && return 0
  info "building temporal-bench (Go SDK; modules from the Go module proxy) into $dir"
  (cd "$TEMPORAL_SRC" && CGO_ENABLED=0 go build -trimpath -buildvcs=false -o "$TEMPORAL_BIN.tmp.$$" .) ||
    { rm -f "$TEMPORAL_BIN.tmp.$$"; die "go build in bench/peers/temporal failed"; }
  find "$dir" -maxdepth 1 -name 'temporal-bench-*' ! -name "temporal-bench-$hash*" -delete
  mv -f "$TEMPORAL_BIN.tmp.$$" "$TEMPORAL_BIN"
}

# temporal_run CONFIG: one Temporal configuration (default, tuned): its own server process on two
# databases of its own (main, visibility), driven and measured by temporal-bench, which stops the
# server at the end (its backends flush their counters when they exit).
temporal_run() {
  local config="$1" db="bench_temporal_${TS//-/_}_$1" vis shards conns vis_conns dynamic="" log n
  local extra=()
  vis="${db}_vis"
  case "$config" in
    default) shards="$TEMPORAL_SHARDS" conns=20 vis_conns=2 ;; # development-postgres12.yaml's
    tuned)
      shards="$TEMPORAL_TUNED_SHARDS" conns=40 vis_conns=10 dynamic="$TEMPORAL_SRC/tuned.yaml"
      extra=(-wf-pollers "$TEMPORAL_TUNED_POLLERS" -act-pollers "$TEMPORAL_TUNED_POLLERS" -eager-start)
      ;;
  esac
  log="$LOG_DIR/peers-temporal-$config.log"
  TEMPORAL_DBS+=("$db" "$vis")
  info "Temporal $config: databases $db and $vis, $shards history shards, $TEMPORAL_WORKERS worker slots${dynamic:+, dynamic config $(rel "$dynamic")}"
  for n in "$db" "$vis"; do
    pg_psql -d postgres -c "CREATE DATABASE \"$n\"" >/dev/null || die "CREATE DATABASE $n failed"
  done
  # Temporal's schemas (embedded in the tool: schema/postgresql/v12/{temporal,visibility}/versioned).
  local tool=("$TEMPORAL_SERVER_DIR/sql" --ep "$HOST" -p "$PG_PORT" -u "$PG_USER" --pl postgres12 --quiet)
  {
    SQL_PASSWORD="$PG_PASSWORD" "${tool[@]}" --db "$db" setup-schema -v 0.0 &&
      SQL_PASSWORD="$PG_PASSWORD" "${tool[@]}" --db "$db" update-schema --schema-name postgresql/v12/temporal &&
      SQL_PASSWORD="$PG_PASSWORD" "${tool[@]}" --db "$vis" setup-schema -v 0.0 &&
      SQL_PASSWORD="$PG_PASSWORD" "${tool[@]}" --db "$vis" update-schema --schema-name postgresql/v12/visibility
  } >"$WORK/temporal-schema.log" 2>&1 || { cat "$WORK/temporal-schema.log" >&2; die "temporal-sql-tool failed"; }

  # The configuration through the environment (the password is on no command line).
  TEMPORAL_BENCH_PG_HOST="$HOST" TEMPORAL_BENCH_PG_PORT="$PG_PORT" TEMPORAL_BENCH_PG_USER="$PG_USER" \
    TEMPORAL_BENCH_PG_PASSWORD="$PG_PASSWORD" TEMPORAL_BENCH_DB="$db" TEMPORAL_BENCH_VIS_DB="$vis" \
    TEMPORAL_BENCH_SHARDS="$shards" TEMPORAL_BENCH_MAX_CONNS="$conns" TEMPORAL_BENCH_VIS_MAX_CONNS="$vis_conns" \
    TEMPORAL_BENCH_PORT="$TEMPORAL_PORT" TEMPORAL_BENCH_DYNAMIC_CONFIG="$dynamic" \
    "$TEMPORAL_SERVER_DIR/server" --config-file "$TEMPORAL_SRC/server.yaml" --allow-no-auth start \
    --service frontend --service history --service matching --service worker >"$log" 2>&1 &
  TEMPORAL_PID=$!
  local deadline=$((SECONDS + 120))
  until (exec 3<>"/dev/tcp/$HOST/$TEMPORAL_PORT") 2>/dev/null; do
    kill -0 "$TEMPORAL_PID" 2>/dev/null || { tail -n 30 "$log" >&2; die "the Temporal server exited (log: $(rel "$log"))"; }
    ((SECONDS < deadline)) || { tail -n 30 "$log" >&2; die "the Temporal frontend does not listen on $HOST:$TEMPORAL_PORT after 120 s (log: $(rel "$log"))"; }
    sleep 0.5
  done
  info "Temporal $config: server pid $TEMPORAL_PID; $WARMUP warm-up workflows, $LATENCY_TASKS at $RATE/s, ${SETTLE}s pause, $TASKS in batches of $BATCH, $AFTER_TASKS at $RATE/s ${AFTER_WAIT}s after, $SINGLE_TASKS single starts"
  # DATABASE_URL_ADMIN comes from dev.env (exported), not from the command line.
  "$TEMPORAL_BIN" -db "$db" -vis-db "$vis" -frontend "$HOST:$TEMPORAL_PORT" -config "$config" \
    -workers "$TEMPORAL_WORKERS" "${extra[@]}" -tasks "$TASKS" -batch "$BATCH" -inflight "$INFLIGHT" \
    -warmup "$WARMUP" -rate "$RATE" -latency-secs "$LATENCY_SECS" -settle-secs "$SETTLE" \
    -timeout-secs "$TIMEOUT" -pg-postmaster "$PG_PID" -server-pid "$TEMPORAL_PID" -clk-tck "$CLK_TCK" \
    -samples-out "$OUT/latency-temporal-$config.txt" -after-burst-wait "$AFTER_WAIT" -after-burst-secs "$AFTER_SECS" \
    -after-burst-samples-out "$OUT/latency-after-burst-temporal-$config.txt" \
    -single-tasks "$SINGLE_TASKS" -single-inflight "$SINGLE_INFLIGHT" -setting "temporal_server=$TEMPORAL_VERSION (postgres12)" \
    -setting "history_shards=$shards" -setting "max_conns=$conns+$vis_conns (per service)" \
    -setting "dynamic_config=$(if [[ -n "$dynamic" ]]; then basename "$dynamic"; else echo none; fi)" \
    >>"$RESULTS" || die "temporal-bench ($config) failed (server log: $(rel "$log"))"
  wait "$TEMPORAL_PID" 2>/dev/null || true # it stopped it
  TEMPORAL_PID=""
  for n in "$db" "$vis"; do
    pg_psql -d postgres -c "DROP DATABASE IF EXISTS \"$n\" WITH (FORCE)" >/dev/null || warn "could not drop database $n"
  done
}

# pg_snapshot SYSTEM CONFIG AT TABLES LABEL=DB...: one JSON line of phase "pg" into RESULTS, the
# shape river-bench prints for River: the cluster's WAL position (pg_current_wal_lsn, bytes), the
# size of each database (pg_database_size), their summed xact_commit and, with TABLES=1,
# n_tup_ins/upd/del of every user table, keyed "<label>.<table>". The table read connects to each
# database (a transaction there), before the commits are read.
pg_snapshot() {
  local system="$1" config="$2" at="$3" tables="$4" pair list="" tmp="$WORK/snapshot.txt"
  shift 4
  : >"$tmp"
  for pair in "$@"; do
    list+="'${pair#*=}',"
    if ((tables)); then
      pg_psql -d "${pair#*=}" -At -F ' ' -c "SELECT 'table', '${pair%%=*}.' ||
        CASE WHEN schemaname = 'public' THEN relname ELSE schemaname || '.' || relname END,
        n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables" >>"$tmp" ||
        die "reading pg_stat_user_tables of ${pair#*=} failed"
    fi
  done
  pg_psql -d postgres -At -F ' ' -c "SELECT 'size', datname, pg_database_size(datname) FROM pg_database
    WHERE datname IN (${list%,}) UNION ALL
    SELECT 'commits', '-', coalesce(sum(xact_commit), 0)::int8 FROM pg_stat_database WHERE datname IN (${list%,}) UNION ALL
    SELECT 'wal', '-', pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::int8" >>"$tmp" ||
    die "reading the WAL position, database sizes and commits failed"
  python3 - "$system" "$config" "$at" "$(now_ms)" "$tmp" >>"$RESULTS" <<'PY'
import json, sys
system, config, at, now, path = sys.argv[1:6]
snap = {"unix_ms": int(now), "wal_lsn": 0, "db_bytes": {}, "tables": {}, "commits": 0}
for line in open(path):
    kind, name, *nums = line.split()
    if kind == "table":
        snap["tables"][name] = [int(n) for n in nums]
    elif kind == "size":
        snap["db_bytes"][name] = int(nums[0])
    elif kind == "wal":
        snap["wal_lsn"] = int(nums[0])
    elif kind == "commits":
        snap["commits"] = int(nums[0])
print(json.dumps({"system": system, "config": config, "phase": "pg", "at": at, "snapshot": snap}))
PY
}

# The whole product as `make up` runs it: svc-tasks, EXECUTORS svc-executors, svc-notify and
# SCHEDULERS svc-schedulers, each with its own bench database, all on the bench's topic prefix
# with their own consumer groups, every setting at the service's default unless a knob says.
taskflow_run() {
  local label="make up" kafka_pid i
  kafka_pid="$(our_pid kafka)" || die "the Kafka broker of make up is not running"
  bench_create_db
  bench_create_exec_db
  bench_create_follower_dbs
  bench_start_svc_tasks
  for ((i = 1; i <= EXECUTORS; i++)); do bench_start_executor "$i"; done
  bench_start_notify
  for ((i = 1; i <= SCHEDULERS; i++)); do bench_start_scheduler "$i"; done
  bench_create_tenant peers-latency
  local latency_key="$TENANT_KEY"
  bench_create_tenant peers-throughput
  local throughput_key="$TENANT_KEY"
  bench_create_tenant peers-after-burst
  local after_key="$TENANT_KEY"
  bench_create_tenant peers-single
  local single_key="$TENANT_KEY"
  # Database URLs and keys through the environment, not the command line.
  export BENCH_TASKS_DB_URL BENCH_EXECUTOR_DB_URL BENCH_ADMIN_DB_URL BENCH_NOTIFY_DB_URL BENCH_SCHEDULER_DB_URL
  BENCH_TASKS_DB_URL="$(pg_url "$DB")"
  BENCH_EXECUTOR_DB_URL="$(pg_url "$EXEC_DB")"
  BENCH_NOTIFY_DB_URL="$(pg_url "$NOTIFY_DB")"
  BENCH_SCHEDULER_DB_URL="$(pg_url "$SCHED_DB")"
  BENCH_ADMIN_DB_URL="$(pg_url postgres)"
  local dbs=("svc-tasks=$DB" "svc-executor=$EXEC_DB" "svc-notify=$NOTIFY_DB" "svc-scheduler=$SCHED_DB")
  local cpu=(--cpu-pid "svc-tasks=$SVC_PID" --cpu-pid "svc-notify=$NOTIFY_PID" --cpu-pid "kafka=$kafka_pid"
    --pg-postmaster "$PG_PID" --clk-tck "$CLK_TCK")
  for i in "${!EXEC_PIDS[@]}"; do cpu+=(--cpu-pid "svc-executor-$((i + 1))=${EXEC_PIDS[$i]}"); done
  for i in "${!SCHED_PIDS[@]}"; do cpu+=(--cpu-pid "svc-scheduler-$((i + 1))=${SCHED_PIDS[$i]}"); done

  # --settle: its CPU counts until svc-notify and every outbox caught up with the last task.
  info "TaskFlow: $WARMUP warm-up tasks, then $LATENCY_TASKS single POST /v1/tasks at $RATE/s"
  BENCH_API_KEY="$latency_key" "$E2E_GEN" --url "$URL" --label "$label" --phase latency --json \
    --single --rate "$RATE" --concurrency 16 --tasks "$LATENCY_TASKS" --warmup-tasks "$WARMUP" \
    --timeout-secs "$TIMEOUT" --samples-out "$OUT/latency-taskflow.txt" --settle "${cpu[@]}" >>"$RESULTS" ||
    die "bench-e2e (latency) failed"
  tail -n1 "$RESULTS" | python3 -c 'import json, sys; r = json.load(sys.stdin); print("[taskflow] latency p50 %s ms, p99 %s ms (%s samples), %.2f CPU ms per task" % (r["p50_ms"], r["p99_ms"], r["measured"], r["cpu_settled_s_per_1000"]))'

  info "TaskFlow: ${SETTLE}s pause, then $TASKS tasks in batches of $BATCH, $INFLIGHT in flight"
  pg_snapshot taskflow "$label" idle_start 0 "${dbs[@]}"
  sleep "$SETTLE"
  pg_snapshot taskflow "$label" before 1 "${dbs[@]}"
  # --settle: after the last completion it waits for svc-notify and every outbox to catch up.
  BENCH_API_KEY="$throughput_key" "$E2E_GEN" --url "$URL" --label "$label" --phase throughput --json \
    --tasks "$TASKS" --warmup-tasks 0 --batch-size "$BATCH" --concurrency "$INFLIGHT" \
    --timeout-secs "$TIMEOUT" --poll-ms 20 --settle "${cpu[@]}" \
    --stat-db "$DB" --stat-db "$EXEC_DB" --stat-db "$NOTIFY_DB" \
    --stat-db "$SCHED_DB" >>"$RESULTS" || die "bench-e2e (throughput) failed"
  pg_snapshot taskflow "$label" settled 0 "${dbs[@]}"
  local last_ms
  last_ms="$(python3 - "$RESULTS" <<'PY'
import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if '"throughput"' in l and '"taskflow"' in l][-1]
print("[taskflow] %.0f tasks/s, %.3f CPU s per 1000 tasks (%.3f until settled)" % (
    r["tasks_per_s"], r["cpu_s_per_1000"], r.get("cpu_settled_s_per_1000", float("nan"))), file=sys.stderr)
print(r["last_completion_unix_ms"])
PY
  )"

  # The run's counters once every backend has published them; then the services idle until the
  # run after the burst (their rate meanwhile is what the report subtracts).
  sleep "$SETTLE"
  [[ "$last_ms" =~ ^[0-9]+$ ]] || die "bench-e2e (throughput) gave no last_completion_unix_ms"
  pg_snapshot taskflow "$label" flushed 1 "${dbs[@]}"
  local due=$((last_ms + AFTER_WAIT * 1000)) now
  now="$(now_ms)"
  ((due >= now + 5000)) || due=$((now + 5000))
  info "TaskFlow: idle until $(((due - last_ms) / 1000)) s after the last completion"
  sleep "$(((due - now) / 1000)).$(printf '%03d' $(((due - now) % 1000)))"
  pg_snapshot taskflow "$label" idle_end 1 "${dbs[@]}"
  if ((AFTER_TASKS > 0)); then
    info "TaskFlow: $AFTER_TASKS single POST /v1/tasks at $RATE/s after the burst"
    BENCH_API_KEY="$after_key" "$E2E_GEN" --url "$URL" --label "$label" --phase latency_after_burst --json \
      --single --rate "$RATE" --concurrency 16 --tasks "$AFTER_TASKS" --warmup-tasks 0 \
      --timeout-secs "$TIMEOUT" --samples-out "$OUT/latency-after-burst-taskflow.txt" >>"$RESULTS" ||
      die "bench-e2e (latency after the burst) failed"
  fi
  if ((SINGLE_TASKS > 0)); then
    info "TaskFlow: $SINGLE_TASKS single POST /v1/tasks, $SINGLE_INFLIGHT in flight"
    BENCH_API_KEY="$single_key" "$E2E_GEN" --url "$URL" --label "$label" --phase single --json \
      --single --concurrency "$SINGLE_INFLIGHT" --tasks "$SINGLE_TASKS" --warmup-tasks 0 \
      --timeout-secs "$TIMEOUT" >>"$RESULTS" || die "bench-e2e (single submissions) failed"
  fi
  bench_stop_services
}

# --- steps ---------------------------------------------------------------------------------------

info "bench-peers $TS: making sure the infrastructure runs (deploy/up.sh)"
"$DEPLOY_DIR/up.sh" >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log" >&2; die "deploy/up.sh failed"; }
# shellcheck source=/dev/null
source "$DEV_ENV"
unset OTEL_EXPORTER_OTLP_ENDPOINT
PG_PID="$(pg_pid)" || die "cannot find the PostgreSQL postmaster of make up"
# As many instances as `make up` runs (dev.env), unless the knobs say otherwise.
EXECUTORS="${PEERS_EXECUTORS:-${TASKFLOW_EXECUTORS:-1}}"
SCHEDULERS="${PEERS_SCHEDULERS:-${TASKFLOW_SCHEDULERS:-1}}"
[[ "$EXECUTORS" =~ ^[1-9][0-9]*$ && "$SCHEDULERS" =~ ^[1-9][0-9]*$ ]] ||
  die "PEERS_EXECUTORS and PEERS_SCHEDULERS must be positive integers, got '$EXECUTORS' and '$SCHEDULERS'"

case " $SYSTEMS " in *" river-"*) river_build ;; esac
case " $SYSTEMS " in *" temporal-"*) temporal_build ;; esac
EXEC_CONC_SHOWN=""
case " $SYSTEMS " in
  *" taskflow "*)
    bench_build all
    # What the executor runs with: the knob, or its own default (`svc-executor --print-config`).
    EXEC_CONC_SHOWN="${E2E_EXEC_CONC:-$("$EXEC_BIN" --print-config 2>/dev/null |
      awk -F '\t' '$1 == "TASKFLOW_EXECUTOR_CONCURRENCY" { print $2 }')}"
    ;;
  *) # the peers alone: the table and the chart are all that is needed of the Rust side
    info "building bench-peers-report and bench-chart (release)"
    (cd "$TASKFLOW_ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --release --quiet -p taskflow-bench \
      --bin bench-peers-report --bin bench-chart) || die "cargo build --release of bench-peers-report failed"
    ;;
esac
mkdir -p "$OUT"
: >"$RESULTS"

LOAD_START="$(load1)"
info "1-minute load average at the start: $LOAD_START ($(nproc) cores)"
for system in $SYSTEMS; do
  case "$system" in
    river-default) river_run default ;;
    river-tuned) river_run tuned ;;
    temporal-default) temporal_run default ;;
    temporal-tuned) temporal_run tuned ;;
    taskflow) taskflow_run ;;
    *) die "unknown system '$system' in PEERS_SYSTEMS (river-default, river-tuned, temporal-default, temporal-tuned, taskflow)" ;;
  esac
done
LOAD_END="$(load1)"
info "1-minute load average at the end: $LOAD_END"

{
  printf 'TaskFlow next to River and Temporal, %s (git %s), %s cores, PostgreSQL 15 shared (127.0.0.1:%s)\n' \
    "$TS" "$(git -C "$TASKFLOW_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')" "$(nproc)" "$PG_PORT"
  printf 'no-op tasks; throughput: %s in batches of %s, %s in flight; latency: %s single submissions at %s/s, and %s more %s s after the last completion of the throughput run; single submissions: %s, %s in flight\n' \
    "$TASKS" "$BATCH" "$INFLIGHT" "$LATENCY_TASKS" "$RATE" "$AFTER_TASKS" "$AFTER_WAIT" "$SINGLE_TASKS" "$SINGLE_INFLIGHT"
  printf 'River: MaxWorkers %s, pool %s. TaskFlow "make up" (release builds): svc-tasks, %s svc-executor(s) at concurrency %s%s, svc-notify, %s svc-scheduler(s); other settings at their defaults\n' \
    "$RIVER_WORKERS" "$RIVER_POOL" "$EXECUTORS" "${EXEC_CONC_SHOWN:-?}" "$([[ -n "$E2E_EXEC_CONC" ]] && echo ' (PEERS_WORKERS)' || echo " (the executor's default)")" "$SCHEDULERS"
  case " $SYSTEMS " in *" temporal-"*)
    printf 'Temporal: server %s (frontend, history, matching, worker in one process; PostgreSQL, postgres12), Go SDK v1.51.0 worker with %s workflow task and activity slots; default: %s history shards, no dynamic config, 2+2 pollers; tuned: %s shards, bench/peers/temporal/tuned.yaml, %s+%s pollers, eager workflow start\n' \
      "$TEMPORAL_VERSION" "$TEMPORAL_WORKERS" "$TEMPORAL_SHARDS" "$TEMPORAL_TUNED_SHARDS" "$TEMPORAL_TUNED_POLLERS" "$TEMPORAL_TUNED_POLLERS" ;;
  esac
  printf '\n'
  "$REPORT_BIN" "$RESULTS" --load-start "$LOAD_START" --load-end "$LOAD_END" --json-out "$OUT/summary.json" \
    --row-writes-out "$OUT/row-writes.txt"
  printf '\nwall time: %ss\n' "$((($(now_ms) - T0) / 1000))"
} >"$OUT/table.txt" || die "bench-peers-report failed (raw results: $(rel "$RESULTS"))"

SERIES=()
for system in $SYSTEMS; do
  case "$system" in
    river-default) SERIES+=(--series "River default=$OUT/latency-river-default.txt") ;;
    river-tuned) SERIES+=(--series "River tuned=$OUT/latency-river-tuned.txt") ;;
    temporal-default) SERIES+=(--series "Temporal default=$OUT/latency-temporal-default.txt") ;;
    temporal-tuned) SERIES+=(--series "Temporal tuned=$OUT/latency-temporal-tuned.txt") ;;
    taskflow) SERIES+=(--series "TaskFlow, make up=$OUT/latency-taskflow.txt") ;;
  esac
done
"$CHART_BIN" --out "$OUT/latency.png" "${SERIES[@]}" \
  --title "submit -> started at $RATE tasks/s, no-op tasks ($TS, load $LOAD_START)" ||
  warn "bench-chart failed: no latency.png"

printf '\n'
cat "$OUT/table.txt"
printf '\n(written to %s: table.txt, row-writes.txt, results.jsonl, summary.json, latency.png)\n' "$(rel "$OUT")"
