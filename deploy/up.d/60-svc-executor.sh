# shellcheck shell=bash
# `make up` hook (sourced by deploy/up.sh after PostgreSQL, Kafka and the registry are up, dev.env
# is written and svc-tasks runs; deploy/lib.sh is loaded): build svc-executor and run EXECUTORS
# instances of it (`make up EXECUTORS=n`; without it, as many as run now, or 1), and add
# TASKFLOW_EXECUTORS and TASKFLOW_EXECUTOR_URL (instance 1's HTTP server: health, metrics and
# /v1/admin/*; unset with EXECUTORS=0) to dev.env.
#
#   binary    $CARGO_TARGET_DIR/<profile>/svc-executor (the one cargo build of the four services:
#             services_build_start in deploy/lib.sh; a no-op when up to date)
#   instance  N = 1..EXECUTORS: run/svc-executor-N.pid, logs/svc-executor-N.log (JSON lines),
#             health on 127.0.0.1:(18100+N) (/health/live, /health/ready), lease owner name
#             executor-N (stable per slot: a restarted instance takes its slot's name again)
#
# Idempotent: a running instance of ours is left alone unless its binary was rebuilt since it
# started or its settings changed: then it is restarted, so `make up` after a code change runs
# the new code. Instances above EXECUTORS are stopped, highest N first. The instances share the
# database taskflow_executor (the work queue; leases decide who runs what) and the consumer group
# svc-executor. deploy/down.d/40-svc-executor.sh stops them all, before svc-tasks and the core.
#
# Everything here is a function prefixed svc_executor_ (this file runs inside up.sh's shell).

SVC_EXECUTOR_BASE_PORT=18100 # instance N listens on 18100+N
# The loopback ports `http` tasks may reach in dev (your local test servers): none of the
# platform's own (PostgreSQL, Kafka, the registry, the services, Jaeger), so a task cannot
# reach their unauthenticated endpoints (the registry accepts deletes).
SVC_EXECUTOR_TASK_PORTS=18200-18299
# Each instance may hold TASKFLOW_EXECUTOR_CONCURRENCY+4 (20) PostgreSQL connections, and
# max_connections is 300 for everything (tests included): keep n small.
SVC_EXECUTOR_MAX=10
SVC_EXECUTOR_BIN="$(service_bin svc-executor)"
# SIGTERM: the service stops taking work, lets running attempts finish for TASKFLOW_DRAIN_MS
# (20 s by default), then releases the rest; SIGKILL only after that.
SVC_EXECUTOR_STOP_TIMEOUT=25

svc_executor_name() { printf 'svc-executor-%s' "$1"; }
svc_executor_log() { printf '%s/svc-executor-%s.log' "$LOG_DIR" "$1"; }
svc_executor_port() { printf '%s' $((SVC_EXECUTOR_BASE_PORT + $1)); }
svc_executor_url() { printf 'http://%s:%s' "$HOST" "$(svc_executor_port "$1")"; }

# The instance count: EXECUTORS when given (`make up EXECUTORS=n`); otherwise as many as run now
# (so `make test`, `make bench` and `make schemas-check`, which run `make up` first, keep an
# EXECUTORS=n setup as it is), and 1 when none runs.
svc_executor_count() {
  local n="${EXECUTORS:-}"
  if [[ -z "$n" ]]; then
    n=0
    local slot
    while IFS= read -r slot; do
      if our_pid "$(svc_executor_name "$slot")" >/dev/null; then n=$((n + 1)); fi
    done < <(svc_executor_slots)
    ((n > 0)) || n=1
  fi
  [[ "$n" =~ ^[0-9]+$ ]] || die "EXECUTORS must be a whole number (0-$SVC_EXECUTOR_MAX), got '$n'"
  n=$((10#$n))
  ((n <= SVC_EXECUTOR_MAX)) || die "EXECUTORS=$n is more than $SVC_EXECUTOR_MAX (each instance holds up to 20 PostgreSQL connections; max_connections is 300)"
  printf '%s' "$n"
}

# Slot numbers N of every run/svc-executor-N.pid, highest first.
svc_executor_slots() {
  local f n
  for f in "$RUN_DIR"/svc-executor-*.pid; do
    [[ -f "$f" ]] || continue
    n="$(basename "$f" .pid)"
    n="${n#svc-executor-}"
    [[ "$n" =~ ^[1-9][0-9]*$ ]] && printf '%s\n' "$n"
  done | sort -rn
}


# The environment of instance N, one NAME=value a line: dev.env's settings plus its own. The
# admin token is svc-tasks' (deploy/up.d/50-svc-tasks.sh): one token for every service's
# /v1/admin/*, so a changed token restarts them all.
svc_executor_settings() {
  local n="$1"
  (
    # shellcheck source=/dev/null
    source "$DEV_ENV"
    printf '%s\n' \
      "DATABASE_URL_EXECUTOR=$DATABASE_URL_EXECUTOR" \
      "KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS" \
      "SCHEMA_REGISTRY_URL=$SCHEMA_REGISTRY_URL" \
      "TASKFLOW_TASK_PARTITIONS=$TASKFLOW_TASK_PARTITIONS" \
      "TASKFLOW_EXECUTOR_BIND=$HOST:$(svc_executor_port "$n")" \
      "TASKFLOW_EXECUTOR_INSTANCE=executor-$n" \
      "TASKFLOW_HTTP_ALLOW_LOOPBACK=true" \
      "TASKFLOW_HTTP_LOOPBACK_PORTS=$SVC_EXECUTOR_TASK_PORTS" \
      "TASKFLOW_ADMIN_TOKEN=$TASKFLOW_ADMIN_TOKEN" \
      "RUST_LOG=info"
    otel_settings "executor-$n"
  )
}

svc_executor_up() {
  local count n
  count="$(svc_executor_count)"

  # Instances above the count go first (highest N first), whatever the build does.
  while IFS= read -r n; do
    ((n > count)) || continue
    stop_piece "$(svc_executor_name "$n")" "$SVC_EXECUTOR_STOP_TIMEOUT"
  done < <(svc_executor_slots)

  # Fail before a long build if someone else holds a port we are about to use.
  for ((n = 1; n <= count; n++)); do
    if ! our_pid "$(svc_executor_name "$n")" >/dev/null; then
      require_port_free "$(svc_executor_name "$n")" "$(svc_executor_port "$n")"
    fi
  done
  if ((count > 0)); then services_build_wait; fi

  # Start (or restart) them all, then wait for each: they come up in parallel.
  for ((n = 1; n <= count; n++)); do
    service_ensure "$(svc_executor_name "$n")" "$(svc_executor_port "$n")" "$SVC_EXECUTOR_BIN" \
      "$SVC_EXECUTOR_STOP_TIMEOUT" svc_executor_settings "$n"
  done
  for ((n = 1; n <= count; n++)); do
    service_wait "$(svc_executor_name "$n")" "$(svc_executor_port "$n")"
    summary_add "$(svc_executor_name "$n")" "$(svc_executor_url "$n")/health/ready (executor-$n)" "$(svc_executor_log "$n")"
  done

  devenv_export TASKFLOW_EXECUTORS "$count"
  # Instances share one database, so any would do for the admin routes; the first always exists.
  if ((count > 0)); then devenv_export TASKFLOW_EXECUTOR_URL "$(svc_executor_url 1)"; fi
}

svc_executor_up
