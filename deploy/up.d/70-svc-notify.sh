# shellcheck shell=bash
# `make up` hook (sourced by deploy/up.sh after the core, svc-tasks and svc-executor; deploy/lib.sh
# is loaded): build and run svc-notify, and add TASKFLOW_NOTIFY_URL to dev.env.
#
#   binary   $CARGO_TARGET_DIR/<profile>/svc-notify (cargo build --profile $SERVICE_PROFILE -p svc-notify)
#   process  run/svc-notify.pid, logs/svc-notify.log (JSON lines), build output logs/svc-notify-build.log
#   port     18095: the dashboard at /, streams and history under /v1
#
# Idempotent like the other services: a running svc-notify of ours is restarted only when its
# binary was rebuilt or its settings changed. deploy/down.d/45-svc-notify.sh stops it.

SVC_NOTIFY_PORT=18095
SVC_NOTIFY_URL="http://$HOST:$SVC_NOTIFY_PORT"
SVC_NOTIFY_LOG="$LOG_DIR/svc-notify.log"
SVC_NOTIFY_BUILD_LOG="$LOG_DIR/svc-notify-build.log"
SVC_NOTIFY_BIN="${CARGO_TARGET_DIR:-$HOME/.cache/taskflow/target}/$(service_profile_dir)/svc-notify"

svc_notify_build() {
  info "building svc-notify (output in $(rel "$SVC_NOTIFY_BUILD_LOG"))"
  mkdir -p "$LOG_DIR"
  # 8>&- 9>&-: cargo and rustc must not inherit the state/cache locks (see lock_state).
  if ! (cd "$TASKFLOW_ROOT" && CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/taskflow/target}" \
    cargo build --profile "$SERVICE_PROFILE" -p svc-notify --color never) >"$SVC_NOTIFY_BUILD_LOG" 2>&1 </dev/null 8>&- 9>&-; then
    {
      printf '[taskflow] ERROR: cargo build -p svc-notify failed; last 40 lines of %s:\n' "$(rel "$SVC_NOTIFY_BUILD_LOG")"
      tail -n 40 "$SVC_NOTIFY_BUILD_LOG" | sed 's/^/    /'
    } >&2
    exit 1
  fi
  [[ -x "$SVC_NOTIFY_BIN" ]] || die "svc-notify: cargo build succeeded but $SVC_NOTIFY_BIN is missing"
}

svc_notify_ready() { curl -fsS -o /dev/null --max-time 3 "$SVC_NOTIFY_URL/health/ready"; }

# Its environment, one NAME=value a line.
svc_notify_settings() {
  (
    # shellcheck source=/dev/null
    source "$DEV_ENV"
    printf '%s\n' \
      "DATABASE_URL_NOTIFY=$DATABASE_URL_NOTIFY" \
      "KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS" \
      "SCHEMA_REGISTRY_URL=$SCHEMA_REGISTRY_URL" \
      "TASKFLOW_TASK_PARTITIONS=$TASKFLOW_TASK_PARTITIONS" \
      "TASKFLOW_NOTIFY_BIND=$HOST:$SVC_NOTIFY_PORT" \
      "TASKFLOW_API_URL=$TASKFLOW_API_URL" \
      "RUST_LOG=info"
    otel_settings
  )
}

svc_notify_stale_reason() {
  local pid="$1" environ setting
  binary_rebuilt_reason "$pid" "$SVC_NOTIFY_BIN" && return 0
  if environ="$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null)"; then
    while IFS= read -r setting; do
      if [[ $'\n'"$environ"$'\n' != *$'\n'"$setting"$'\n'* ]]; then
        printf 'its setting %s changed' "${setting%%=*}"
        return 0
      fi
    done < <(svc_notify_settings)
  fi
}

svc_notify_start() {
  local settings
  require_port_free svc-notify "$SVC_NOTIFY_PORT"
  mapfile -t settings < <(svc_notify_settings)
  info "starting svc-notify on $SVC_NOTIFY_URL"
  (
    cd "$STATE_DIR" || exit 1
    start_detached svc-notify "$SVC_NOTIFY_LOG" "${settings[@]}" "$SVC_NOTIFY_BIN"
  )
  record_health_url svc-notify "$SVC_NOTIFY_URL/health/ready"
}

svc_notify_up() {
  local pid reason
  if ! our_pid svc-notify >/dev/null; then require_port_free svc-notify "$SVC_NOTIFY_PORT"; fi
  svc_notify_build
  if pid="$(our_pid svc-notify)"; then
    reason="$(svc_notify_stale_reason "$pid")"
    if [[ -n "$reason" ]]; then
      info "restarting svc-notify: $reason"
      stop_piece svc-notify 10
      svc_notify_start
    fi
  else
    svc_notify_start
  fi
  pid="$(our_pid svc-notify)" || die_with_log svc-notify "the process exited right away" "$SVC_NOTIFY_LOG"
  wait_for svc-notify 60 "$SVC_NOTIFY_LOG" "$pid" svc_notify_ready
  devenv_export TASKFLOW_NOTIFY_URL "$SVC_NOTIFY_URL"
  summary_add svc-notify "$SVC_NOTIFY_URL (dashboard; streams: /v1/stream)" "$SVC_NOTIFY_LOG"
}

svc_notify_up
