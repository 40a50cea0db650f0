#!/usr/bin/env bash
# `make down`: stop what `make up` started for this clone, and nothing else. Processes are found
# through their pidfiles (checked by pid + start time, so a reused pid is never signalled) and
# PostgreSQL through its own postmaster.pid. Data stays: the next `make up` picks it up again.
set -euo pipefail
# shellcheck source=deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lock_state

# Hooks of later issues first (they may depend on the core pieces while stopping).
for hook in "$DEPLOY_DIR"/down.d/*.sh; do
  [[ -f "$hook" ]] || continue
  # shellcheck source=/dev/null
  source "$hook"
done

# Anything else a hook started with start_detached (run/<name>.pid), before the core pieces.
for f in "$RUN_DIR"/*.pid; do
  [[ -f "$f" ]] || continue
  name="$(basename "$f" .pid)"
  case "$name" in kafka | registry) continue ;; esac
  stop_piece "$name" 20
done

# The registry first: it holds connections to PostgreSQL.
stop_piece registry 20
# Kafka's controlled shutdown of a single node takes a few seconds.
stop_piece kafka 45

if pid="$(pg_pid)"; then
  info "stopping postgres (pid $pid)"
  # -m fast: roll back open transactions and disconnect clients (tests may have left some open).
  if ! "${PG_AS_OWNER[@]}" "$PG_BIN/pg_ctl" -D "$(pg_data_dir)" -m fast -w -t 30 stop >>"$PG_LOG" 2>&1; then
    warn "pg_ctl stop -m fast failed; trying immediate shutdown (see $(rel "$PG_LOG"))"
    "${PG_AS_OWNER[@]}" "$PG_BIN/pg_ctl" -D "$(pg_data_dir)" -m immediate -w -t 30 stop >>"$PG_LOG" 2>&1 ||
      die "could not stop PostgreSQL (pid $pid); see $(rel "$PG_LOG")"
  fi
fi

info "stopped (data kept in $(rel "$STATE_DIR"); \`make up\` starts it all again)"
