# shellcheck shell=bash
# `make up` hook (sourced by deploy/up.sh after the core, svc-tasks and svc-executor; deploy/lib.sh
# is loaded): build and run svc-notify, and add TASKFLOW_NOTIFY_URL to dev.env.
#
#   binary   $CARGO_TARGET_DIR/<profile>/svc-notify (the one cargo build of the four services: services_build_start in deploy/lib.sh)
#   process  run/svc-notify.pid, logs/svc-notify.log (JSON lines)
#   port     18095: the dashboard at /, streams and history under /v1
#
# Idempotent like the other services: a running svc-notify of ours is restarted only when its
# binary was rebuilt or its settings changed. deploy/down.d/45-svc-notify.sh stops it.

SVC_NOTIFY_PORT=18095
SVC_NOTIFY_URL="http://$HOST:$SVC_NOTIFY_PORT"
SVC_NOTIFY_LOG="$LOG_DIR/svc-notify.log"
SVC_NOTIFY_BIN="$(service_bin svc-notify)"

# Its environment, one NAME=value a line; the admin token is svc-tasks' (one for every service).
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
      "TASKFLOW_ADMIN_TOKEN=$TASKFLOW_ADMIN_TOKEN" \
      "RUST_LOG=info"
    otel_settings
  )
}

svc_notify_up() {
  if ! our_pid svc-notify >/dev/null; then require_port_free svc-notify "$SVC_NOTIFY_PORT"; fi
  services_build_wait
  service_ensure svc-notify "$SVC_NOTIFY_PORT" "$SVC_NOTIFY_BIN" 10 svc_notify_settings
  service_wait svc-notify "$SVC_NOTIFY_PORT"
  devenv_export TASKFLOW_NOTIFY_URL "$SVC_NOTIFY_URL"
  summary_add svc-notify "$SVC_NOTIFY_URL (dashboard; streams: /v1/stream)" "$SVC_NOTIFY_LOG"
}

svc_notify_up
