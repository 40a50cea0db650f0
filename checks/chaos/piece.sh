#!/usr/bin/env bash
# `make chaos`'s hands: one fault on one piece `make up` started, found by its pidfile (so only
# our own processes are touched; deploy/lib.sh checks the pid still is the process we started).
#
#   piece.sh kill NAME      SIGKILL (kill -9): no shutdown hook runs, no socket is closed cleanly
#   piece.sh stop NAME      SIGSTOP: the process freezes (leases and sessions expire meanwhile)
#   piece.sh cont NAME      SIGCONT
#   piece.sh term NAME      stop it the way `make down` does (SIGTERM, then SIGKILL) and forget it
#   piece.sh pg-crash       PostgreSQL's immediate shutdown: every backend killed, no checkpoint,
#                           crash recovery (WAL replay) at the next start
#   piece.sh pid NAME       print the pid (exit 1 when it does not run)
# NAME: a file name under .taskflow/run/ without .pid (svc-tasks, svc-executor-2, kafka, ...).
# Bringing pieces back is `make up`'s job (deploy/up.sh starts whatever does not run).
set -euo pipefail
# shellcheck source=deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../deploy/lib.sh"

action="${1:?usage: piece.sh kill|stop|cont|term|pid NAME | pg-crash}"
name="${2:-}"

running_pid() {
  local pid
  pid="$(our_pid "$name")" || die "chaos: $name does not run (no live process behind .taskflow/run/$name.pid)"
  printf '%s' "$pid"
}

case "$action" in
  kill) kill -KILL "$(running_pid)" ;;
  stop) kill -STOP "$(running_pid)" ;;
  cont) kill -CONT "$(running_pid)" ;;
  term) stop_piece "$name" 30 ;;
  pid) our_pid "$name" ;;
  pg-crash)
    "${PG_AS_OWNER[@]}" "$PG_BIN/pg_ctl" -D "$(pg_data_dir)" -m immediate -w -t 30 stop >>"$PG_LOG" 2>&1 ||
      die "chaos: pg_ctl stop -m immediate failed (see $(rel "$PG_LOG"))"
    ;;
  *) die "chaos: unknown action '$action' (kill, stop, cont, term, pid, pg-crash)" ;;
esac
