#!/usr/bin/env bash
# `make logs`: follow the logs of what `make up` started. deploy/logs.sh [PIECE...] follows only
# those pieces (postgres, kafka, registry, or any other .taskflow/logs/<piece>.log).
set -euo pipefail
# shellcheck source=deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

files=()
if (($# == 0)); then
  for f in "$LOG_DIR"/*.log; do
    [[ -f "$f" ]] && files+=("$f")
  done
  ((${#files[@]})) || die "no logs yet in $(rel "$LOG_DIR"): run \`make up\` first"
else
  for piece in "$@"; do
    f="$LOG_DIR/$piece.log"
    if [[ ! -f "$f" ]]; then
      known=("$LOG_DIR"/*.log)
      known=("${known[@]##*/}")
      die "no log for '$piece' ($(rel "$f")); known: ${known[*]%.log}"
    fi
    files+=("$f")
  done
fi

# -F: keep following across the rotation up.sh does on restart.
exec tail -n 30 -F "${files[@]}"
