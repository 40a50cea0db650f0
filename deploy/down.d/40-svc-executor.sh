# shellcheck shell=bash
# `make down` hook (sourced by deploy/down.sh before 50-svc-tasks.sh and the core pieces, so the
# executors can still finish or release their attempts, publish their outbox and commit their
# Kafka offsets): stop every svc-executor-N started by deploy/up.d/60-svc-executor.sh, through
# its pidfile and only if the pidfile names the process we started.
#
# SIGTERM: an instance stops taking work, lets running attempts finish for up to
# TASKFLOW_DRAIN_MS (20 s by default) and releases the rest; SIGKILL after 25 s. All instances
# are signalled at once, so n of them take as long as the slowest, not n times 20 s.
svc_executor_down() {
  local f name
  local pids=()
  for f in "$RUN_DIR"/svc-executor-*.pid; do
    [[ -f "$f" ]] || continue
    name="$(basename "$f" .pid)"
    [[ "$name" =~ ^svc-executor-[1-9][0-9]*$ ]] || continue
    stop_piece "$name" 25 &
    pids+=("$!")
  done
  # stop_piece does not fail; wait for each so make down ends after the last one.
  for f in "${pids[@]}"; do wait "$f" || true; done
}

svc_executor_down
