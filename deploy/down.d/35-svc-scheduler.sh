# shellcheck shell=bash
# `make down` hook: stop every svc-scheduler instance (see deploy/up.d/80-svc-scheduler.sh)
# first, so no trigger is decided while the services that turn it into a task stop; its outbox
# keeps what it decided.
svc_scheduler_down() {
  local f name
  local pids=()
  for f in "$RUN_DIR"/svc-scheduler.pid "$RUN_DIR"/svc-scheduler-*.pid; do
    [[ -f "$f" ]] || continue
    name="$(basename "$f" .pid)"
    [[ "$name" =~ ^svc-scheduler(-[2-9])?$ ]] || continue
    stop_piece "$name" 10 &
    pids+=("$!")
  done
  for f in "${pids[@]}"; do wait "$f" || true; done
}

svc_scheduler_down
