# shellcheck shell=bash
# `make up` hook (sourced by deploy/up.sh after the core and the other services; deploy/lib.sh
# is loaded): build and run svc-scheduler, and add TASKFLOW_SCHEDULER_URL to dev.env.
#
#   binary   $CARGO_TARGET_DIR/<profile>/svc-scheduler (cargo build --profile $SERVICE_PROFILE -p svc-scheduler)
#   process  run/svc-scheduler.pid, logs/svc-scheduler.log (JSON lines), build output logs/svc-scheduler-build.log
#   port     18096: the schedules API under /v1/schedules
#
# Idempotent like the other services: a running svc-scheduler of ours is restarted only when its
# binary was rebuilt or its settings changed. deploy/down.d/35-svc-scheduler.sh stops it.

SVC_SCHEDULER_PORT=18096
SVC_SCHEDULER_URL="http://$HOST:$SVC_SCHEDULER_PORT"
SVC_SCHEDULER_LOG="$LOG_DIR/svc-scheduler.log"
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

svc_scheduler_ready() { curl -fsS -o /dev/null --max-time 3 "$SVC_SCHEDULER_URL/health/ready"; }

# Its environment, one NAME=value a line.
svc_scheduler_settings() {
  (
    # shellcheck source=/dev/null
    source "$DEV_ENV"
    printf '%s\n' \
      "DATABASE_URL_SCHEDULER=$DATABASE_URL_SCHEDULER" \
      "KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS" \
      "SCHEMA_REGISTRY_URL=$SCHEMA_REGISTRY_URL" \
      "TASKFLOW_TASK_PARTITIONS=$TASKFLOW_TASK_PARTITIONS" \
      "TASKFLOW_SCHEDULER_BIND=$HOST:$SVC_SCHEDULER_PORT" \
      "RUST_LOG=info"
  )
}

svc_scheduler_stale_reason() {
  local pid="$1" environ setting
  binary_rebuilt_reason "$pid" "$SVC_SCHEDULER_BIN" && return 0
  if environ="$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null)"; then
    while IFS= read -r setting; do
      if [[ $'\n'"$environ"$'\n' != *$'\n'"$setting"$'\n'* ]]; then
        printf 'its setting %s changed' "${setting%%=*}"
        return 0
      fi
    done < <(svc_scheduler_settings)
  fi
}

svc_scheduler_start() {
  local settings
  require_port_free svc-scheduler "$SVC_SCHEDULER_PORT"
  mapfile -t settings < <(svc_scheduler_settings)
  info "starting svc-scheduler on $SVC_SCHEDULER_URL"
  (
    cd "$STATE_DIR" || exit 1
    start_detached svc-scheduler "$SVC_SCHEDULER_LOG" "${settings[@]}" "$SVC_SCHEDULER_BIN"
  )
  record_health_url svc-scheduler "$SVC_SCHEDULER_URL/health/ready"
}

svc_scheduler_up() {
  local pid reason
  if ! our_pid svc-scheduler >/dev/null; then require_port_free svc-scheduler "$SVC_SCHEDULER_PORT"; fi
  svc_scheduler_build
  if pid="$(our_pid svc-scheduler)"; then
    reason="$(svc_scheduler_stale_reason "$pid")"
    if [[ -n "$reason" ]]; then
      info "restarting svc-scheduler: $reason"
      stop_piece svc-scheduler 10
      svc_scheduler_start
    fi
  else
    svc_scheduler_start
  fi
  pid="$(our_pid svc-scheduler)" || die_with_log svc-scheduler "the process exited right away" "$SVC_SCHEDULER_LOG"
  wait_for svc-scheduler 60 "$SVC_SCHEDULER_LOG" "$pid" svc_scheduler_ready
  devenv_export TASKFLOW_SCHEDULER_URL "$SVC_SCHEDULER_URL"
  summary_add svc-scheduler "$SVC_SCHEDULER_URL (schedules: /v1/schedules)" "$SVC_SCHEDULER_LOG"
}

svc_scheduler_up
