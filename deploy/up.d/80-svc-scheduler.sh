# shellcheck shell=bash
# `make up` hook (sourced by deploy/up.sh after the core and the other services; deploy/lib.sh
# is loaded): build svc-scheduler and run SCHEDULERS instances of it (`make up SCHEDULERS=n`;
# without it, as many as run now, or 1), and add TASKFLOW_SCHEDULER_URL and
# TASKFLOW_SCHEDULERS to dev.env.
#
#   binary    $CARGO_TARGET_DIR/<profile>/svc-scheduler (the one cargo build of the four services: services_build_start in deploy/lib.sh)
#   instance  1: run/svc-scheduler.pid, logs/svc-scheduler.log, port 18096 (TASKFLOW_SCHEDULER_URL);
#             N = 2..SCHEDULERS: run/svc-scheduler-N.pid, logs/svc-scheduler-N.log, port 18120+N.
#             Every instance serves the same API over the same database and fires schedules:
#             row locks decide who fires what (FOR UPDATE SKIP LOCKED), so an instant fires once
#             however many run.
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
SVC_SCHEDULER_BIN="$(service_bin svc-scheduler)"


# Its environment, one NAME=value a line; the admin token is svc-tasks' (one for every service).
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
      "TASKFLOW_ADMIN_TOKEN=$TASKFLOW_ADMIN_TOKEN" \
      "RUST_LOG=info"
    otel_settings "scheduler-$n"
  )
}

svc_scheduler_up() {
  local count n name
  count="$(svc_scheduler_count)"
  while IFS= read -r n; do
    if ((n > count)); then stop_piece "$(svc_scheduler_name "$n")" 10; fi
  done < <(svc_scheduler_running)
  for ((n = 1; n <= count; n++)); do
    if ! our_pid "$(svc_scheduler_name "$n")" >/dev/null; then
      require_port_free "$(svc_scheduler_name "$n")" "$(svc_scheduler_port "$n")"
    fi
  done
  services_build_wait
  for ((n = 1; n <= count; n++)); do
    service_ensure "$(svc_scheduler_name "$n")" "$(svc_scheduler_port "$n")" "$SVC_SCHEDULER_BIN" 10 svc_scheduler_settings "$n"
  done
  for ((n = 1; n <= count; n++)); do
    name="$(svc_scheduler_name "$n")"
    service_wait "$name" "$(svc_scheduler_port "$n")"
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
