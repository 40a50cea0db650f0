# shellcheck shell=bash
# `make up` hook (sourced by deploy/up.sh after the core and the other services; deploy/lib.sh
# is loaded): build svc-scheduler and run SCHEDULERS instances of it (`make up SCHEDULERS=n`;
# without it, as many as run now, or 1), and add TASKFLOW_SCHEDULER_URL and
# TASKFLOW_SCHEDULERS to dev.env.
#
#   binary    $CARGO_TARGET_DIR/<profile>/svc-scheduler (cargo build --profile $SERVICE_PROFILE -p svc-scheduler)
#   instance  1: run/svc-scheduler.pid, logs/svc-scheduler.log, port 18096 (TASKFLOW_SCHEDULER_URL);
#             N = 2..SCHEDULERS: run/svc-scheduler-N.pid, logs/svc-scheduler-N.log, port 18120+N.
#             Every instance serves the same API over the same database and fires schedules:
#             row locks decide who fires what (FOR UPDATE SKIP LOCKED), so an instant fires once
#             however many run.
#   build     logs/svc-scheduler-build.log
#
# Idempotent like the other services: a running instance of ours is restarted only when its
# binary was rebuilt or its settings changed; instances above SCHEDULERS are stopped.
# deploy/down.d/35-svc-scheduler.sh stops them all.

SVC_SCHEDULER_PORT=18096
SVC_SCHEDULER_URL="http://$HOST:$SVC_SCHEDULER_PORT"
SVC_SCHEDULER_MAX=5

svc_scheduler_name() { if (($1 == 1)); then printf 'svc-scheduler'; else printf 'svc-scheduler-%s' "$1"; fi; }
svc_scheduler_log() { printf '%s/%s.log' "$LOG_DIR" "$(svc_scheduler_name "$1")"; }
svc_scheduler_port() { if (($1 == 1)); then printf '%s' "$SVC_SCHEDULER_PORT"; else printf '%s' $((18120 + $1)); fi; }
svc_scheduler_url() { printf 'http://%s:%s' "$HOST" "$(svc_scheduler_port "$1")"; }

# Slot numbers of the instances of ours that run now, highest first.
svc_scheduler_running() {
  local n
  for ((n = SVC_SCHEDULER_MAX; n >= 1; n--)); do
    if our_pid "$(svc_scheduler_name "$n")" >/dev/null; then printf '%s\n' "$n"; fi
  done
}

# SCHEDULERS when given; otherwise as many as run now (so `make test` keeps a SCHEDULERS=n
# setup), and 1 when none runs.
svc_scheduler_count() {
  local n="${SCHEDULERS:-}"
  if [[ -z "$n" ]]; then
    n="$(svc_scheduler_running | wc -l)"
    ((n > 0)) || n=1
  fi
  [[ "$n" =~ ^[0-9]+$ ]] || die "SCHEDULERS must be a whole number (1-$SVC_SCHEDULER_MAX), got '$n'"
  n=$((10#$n))
  ((n >= 1 && n <= SVC_SCHEDULER_MAX)) || die "SCHEDULERS=$n: give 1 to $SVC_SCHEDULER_MAX"
  printf '%s' "$n"
}
SVC_SCHEDULER_BUILD_LOG="$LOG_DIR/svc-scheduler-build.log"
SVC_SCHEDULER_BIN="${CARGO_TARGET_DIR:-$HOME/.cache/taskflow/target}/$(service_profile_dir)/svc-scheduler"

svc_scheduler_build() {
  info "building svc-scheduler (output in $(rel "$SVC_SCHEDULER_BUILD_LOG"))"
  mkdir -p "$LOG_DIR"
  # 8>&- 9>&-: cargo and rustc must not inherit the state/cache locks (see lock_state).
  if ! (cd "$TASKFLOW_ROOT" && CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/taskflow/target}" \
    cargo build --profile "$SERVICE_PROFILE" -p svc-scheduler --color never) >"$SVC_SCHEDULER_BUILD_LOG" 2>&1 </dev/null 8>&- 9>&-; then
    {
      printf '[taskflow] ERROR: cargo build -p svc-scheduler failed; last 40 lines of %s:\n' "$(rel "$SVC_SCHEDULER_BUILD_LOG")"
      tail -n 40 "$SVC_SCHEDULER_BUILD_LOG" | sed 's/^/    /'
    } >&2
    exit 1
  fi
  [[ -x "$SVC_SCHEDULER_BIN" ]] || die "svc-scheduler: cargo build succeeded but $SVC_SCHEDULER_BIN is missing"
}

svc_scheduler_ready() { curl -fsS -o /dev/null --max-time 3 "$(svc_scheduler_url "$1")/health/ready"; }

# The environment of instance N, one NAME=value a line.
svc_scheduler_settings() {
  local n="$1"
  (
    # shellcheck source=/dev/null
    source "$DEV_ENV"
    printf '%s\n' \
      "DATABASE_URL_SCHEDULER=$DATABASE_URL_SCHEDULER" \
      "KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS" \
      "SCHEMA_REGISTRY_URL=$SCHEMA_REGISTRY_URL" \
      "TASKFLOW_TASK_PARTITIONS=$TASKFLOW_TASK_PARTITIONS" \
      "TASKFLOW_SCHEDULER_BIND=$HOST:$(svc_scheduler_port "$n")" \
      "RUST_LOG=info"
    otel_settings "scheduler-$n"
  )
}

svc_scheduler_stale_reason() {
  local n="$1" pid="$2" environ setting
  binary_rebuilt_reason "$pid" "$SVC_SCHEDULER_BIN" && return 0
  if environ="$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null)"; then
    while IFS= read -r setting; do
      if [[ $'\n'"$environ"$'\n' != *$'\n'"$setting"$'\n'* ]]; then
        printf 'its setting %s changed' "${setting%%=*}"
        return 0
      fi
    done < <(svc_scheduler_settings "$n")
  fi
}

svc_scheduler_start() {
  local n="$1" name settings
  name="$(svc_scheduler_name "$n")"
  require_port_free "$name" "$(svc_scheduler_port "$n")"
  mapfile -t settings < <(svc_scheduler_settings "$n")
  info "starting $name on $(svc_scheduler_url "$n")"
  (
    cd "$STATE_DIR" || exit 1
    start_detached "$name" "$(svc_scheduler_log "$n")" "${settings[@]}" "$SVC_SCHEDULER_BIN"
  )
  record_health_url "$name" "$(svc_scheduler_url "$n")/health/ready"
}

svc_scheduler_up() {
  local count n name pid reason
  count="$(svc_scheduler_count)"
  while IFS= read -r n; do
    if ((n > count)); then stop_piece "$(svc_scheduler_name "$n")" 10; fi
  done < <(svc_scheduler_running)
  for ((n = 1; n <= count; n++)); do
    if ! our_pid "$(svc_scheduler_name "$n")" >/dev/null; then
      require_port_free "$(svc_scheduler_name "$n")" "$(svc_scheduler_port "$n")"
    fi
  done
  svc_scheduler_build
  for ((n = 1; n <= count; n++)); do
    name="$(svc_scheduler_name "$n")"
    if pid="$(our_pid "$name")"; then
      reason="$(svc_scheduler_stale_reason "$n" "$pid")"
      [[ -n "$reason" ]] || continue
      info "restarting $name: $reason"
      stop_piece "$name" 10
    fi
    svc_scheduler_start "$n"
  done
  for ((n = 1; n <= count; n++)); do
    name="$(svc_scheduler_name "$n")"
    pid="$(our_pid "$name")" || die_with_log "$name" "the process exited right away" "$(svc_scheduler_log "$n")"
    wait_for "$name" 60 "$(svc_scheduler_log "$n")" "$pid" svc_scheduler_ready "$n"
    if ((n == 1)); then
      summary_add "$name" "$(svc_scheduler_url "$n") (schedules: /v1/schedules)" "$(svc_scheduler_log "$n")"
    else
      summary_add "$name" "$(svc_scheduler_url "$n") (same API, same database)" "$(svc_scheduler_log "$n")"
    fi
  done
  devenv_export TASKFLOW_SCHEDULER_URL "$SVC_SCHEDULER_URL"
  devenv_export TASKFLOW_SCHEDULERS "$count"
}

svc_scheduler_up
