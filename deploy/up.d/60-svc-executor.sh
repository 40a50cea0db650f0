# shellcheck shell=bash
# `make up` hook (sourced by deploy/up.sh after PostgreSQL, Kafka and the registry are up, dev.env
# is written and svc-tasks runs; deploy/lib.sh is loaded): build svc-executor and run EXECUTORS
# instances of it (`make up EXECUTORS=n`; without it, as many as run now, or 1), and add
# TASKFLOW_EXECUTORS to dev.env.
#
#   binary    $CARGO_TARGET_DIR/<profile>/svc-executor (cargo build --profile $SERVICE_PROFILE -p svc-executor --bin svc-executor;
#             a no-op when up to date; only the service, not the package's other binaries)
#   instance  N = 1..EXECUTORS: run/svc-executor-N.pid, logs/svc-executor-N.log (JSON lines),
#             health on 127.0.0.1:(18100+N) (/health/live, /health/ready), lease owner name
#             executor-N (stable per slot: a restarted instance takes its slot's name again)
#   build     logs/svc-executor-build.log
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
SVC_EXECUTOR_BUILD_LOG="$LOG_DIR/svc-executor-build.log"
SVC_EXECUTOR_BIN="${CARGO_TARGET_DIR:-$HOME/.cache/taskflow/target}/$(service_profile_dir)/svc-executor"
# SIGTERM: the service stops taking work, lets running attempts finish for TASKFLOW_DRAIN_MS
# (20 s by default), then releases the rest; SIGKILL only after that.
SVC_EXECUTOR_STOP_TIMEOUT=25

svc_executor_name() { printf 'svc-executor-%s' "$1"; }
svc_executor_log() { printf '%s/svc-executor-%s.log' "$LOG_DIR" "$1"; }
svc_executor_port() { printf '%s' $((SVC_EXECUTOR_BASE_PORT + $1)); }
svc_executor_url() { printf 'http://%s:%s' "$HOST" "$(svc_executor_port "$1")"; }

svc_executor_ready() { curl -fsS -o /dev/null --max-time 3 "$(svc_executor_url "$1")/health/ready"; }

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

svc_executor_build() {
  command -v cargo >/dev/null || die "svc-executor: cargo is not on PATH (install Rust with https://rustup.rs, then run make up again)"
  info "building svc-executor (output in $(rel "$SVC_EXECUTOR_BUILD_LOG"))"
  mkdir -p "$LOG_DIR"
  # 8>&- 9>&-: cargo and rustc must not inherit the state/cache locks (see lock_state).
  if ! (cd "$TASKFLOW_ROOT" && CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/taskflow/target}" \
    cargo build --profile "$SERVICE_PROFILE" -p svc-executor --bin svc-executor --color never) >"$SVC_EXECUTOR_BUILD_LOG" 2>&1 </dev/null 8>&- 9>&-; then
    {
      printf '[taskflow] ERROR: cargo build -p svc-executor failed; last 40 lines of %s:\n' "$(rel "$SVC_EXECUTOR_BUILD_LOG")"
      tail -n 40 "$SVC_EXECUTOR_BUILD_LOG" | sed 's/^/    /'
    } >&2
    exit 1
  fi
  [[ -x "$SVC_EXECUTOR_BIN" ]] || die "svc-executor: cargo build succeeded but $SVC_EXECUTOR_BIN is missing (is CARGO_TARGET_DIR the same as cargo's?)"
}

# The environment of instance N, one NAME=value a line: dev.env's settings plus its own.
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
      "RUST_LOG=info"
    otel_settings "executor-$n"
  )
}

# Why the running instance N (process PID) should be restarted (prints a reason), or nothing.
svc_executor_stale_reason() {
  local n="$1" pid="$2" environ setting
  binary_rebuilt_reason "$pid" "$SVC_EXECUTOR_BIN" && return 0
  # The settings it runs with (its environment is readable: it is our process).
  if environ="$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null)"; then
    while IFS= read -r setting; do
      if [[ $'\n'"$environ"$'\n' != *$'\n'"$setting"$'\n'* ]]; then
        printf 'its setting %s changed' "${setting%%=*}"
        return 0
      fi
    done < <(svc_executor_settings "$n")
  fi
}

svc_executor_start() {
  local n="$1" settings
  require_port_free "$(svc_executor_name "$n")" "$(svc_executor_port "$n")"
  mapfile -t settings < <(svc_executor_settings "$n")
  info "starting $(svc_executor_name "$n") on $(svc_executor_url "$n") (lease owner executor-$n)"
  (
    cd "$STATE_DIR" || exit 1 # where a core dump would land, not the source tree
    start_detached "$(svc_executor_name "$n")" "$(svc_executor_log "$n")" "${settings[@]}" "$SVC_EXECUTOR_BIN"
  )
  record_health_url "$(svc_executor_name "$n")" "$(svc_executor_url "$n")/health/ready"
}

svc_executor_up() {
  local count n pid reason
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
  if ((count > 0)); then svc_executor_build; fi

  # Start (or restart) them all, then wait for each: they come up in parallel.
  for ((n = 1; n <= count; n++)); do
    if pid="$(our_pid "$(svc_executor_name "$n")")"; then
      reason="$(svc_executor_stale_reason "$n" "$pid")"
      [[ -n "$reason" ]] || continue
      info "restarting $(svc_executor_name "$n"): $reason"
      stop_piece "$(svc_executor_name "$n")" "$SVC_EXECUTOR_STOP_TIMEOUT"
    fi
    svc_executor_start "$n"
  done
  for ((n = 1; n <= count; n++)); do
    pid="$(our_pid "$(svc_executor_name "$n")")" ||
      die_with_log "$(svc_executor_name "$n")" "the process exited right away" "$(svc_executor_log "$n")"
    wait_for "$(svc_executor_name "$n")" 60 "$(svc_executor_log "$n")" "$pid" svc_executor_ready "$n"
    summary_add "$(svc_executor_name "$n")" "$(svc_executor_url "$n")/health/ready (executor-$n)" "$(svc_executor_log "$n")"
  done

  devenv_export TASKFLOW_EXECUTORS "$count"
}

svc_executor_up
