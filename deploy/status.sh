#!/usr/bin/env bash
# `make status`: for each piece `make up` manages, whether it runs, its pid, its address, and
# whether it answers a real request (not just an open port).
# Exit status 0, so `make status` shows no make error for a stopped system; with --check it is 3
# when something does not answer (like `pg_ctl status`), for scripts.
set -euo pipefail
# shellcheck source=deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

all_ok=1
# The name column fits `svc-executor-10`.
row() { printf '  %-16s %-8s %-8s %-46s %-7s %s\n' "$@"; }

# show NAME PID_OR_EMPTY ADDRESS LOG probe-cmd...
show() {
  local name="$1" pid="$2" addr="$3" log="$4" state answers
  shift 4
  if [[ -n "$pid" ]]; then state=running; else state=stopped; fi
  if "$@" >/dev/null 2>&1; then answers=yes; else answers=no; all_ok=0; fi
  # Something answering while we have no process: another clone, or a foreign server.
  if [[ -z "$pid" && "$answers" == yes ]]; then state="foreign"; all_ok=0; fi
  row "$name" "$state" "${pid:--}" "$addr" "$answers" "$(rel "$log")"
}

row piece state pid address answers log
show postgres "$(pg_pid || true)" "$HOST:$PG_PORT" "$PG_LOG" pg_answers
show kafka "$(our_pid kafka || true)" "$HOST:$KAFKA_PORT" "$KAFKA_LOG" kafka_answers
show registry "$(our_pid registry || true)" "$REGISTRY_CCOMPAT" "$REGISTRY_LOG" registry_answers

# Pieces started by deploy/up.d hooks, asked at the readiness URL they recorded (run/NAME.url).
url_answers() { curl -fsS -o /dev/null --max-time 3 "$1"; }
for f in "$RUN_DIR"/*.pid; do
  [[ -f "$f" ]] || continue
  name="$(basename "$f" .pid)"
  case "$name" in kafka | registry) continue ;; esac
  url="-"
  if [[ -f "$RUN_DIR/$name.url" ]]; then url="$(<"$RUN_DIR/$name.url")"; fi
  pid="$(our_pid "$name" || true)"
  if [[ "$url" == - ]]; then
    # Nothing to ask: running or not is all that is known.
    if [[ -n "$pid" ]]; then answers="?"; else answers=no; all_ok=0; fi
    row "$name" "$([[ -n "$pid" ]] && echo running || echo stopped)" "${pid:--}" "-" "$answers" "$(rel "$LOG_DIR/$name.log")"
  else
    show "$name" "$pid" "$url" "$LOG_DIR/$name.log" url_answers "$url"
  fi
done

if [[ -f "$DEV_ENV" ]]; then
  printf '\nEnvironment: source %s\n' "$(rel "$DEV_ENV")"
fi
if [[ "${1:-}" == --check ]] && ((!all_ok)); then exit 3; fi
exit 0
