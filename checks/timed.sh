#!/usr/bin/env bash
# `checks/timed.sh NAME COMMAND...`: runs COMMAND and appends "NAME seconds status" to
# $TIMED_LOG (default .taskflow/test-times), so `make test` can end with where its time went.
# `checks/timed.sh --report` prints that table and starts a new one.
set -uo pipefail
log="${TIMED_LOG:-.taskflow/test-times}"
if [[ "${1:-}" == "--report" ]]; then
  [[ -s "$log" ]] || exit 0
  awk '{ total += $2; printf "  %-22s %5d s  %s\n", $1, $2, $3 } END { printf "  %-22s %5d s\n", "total", total }' "$log"
  rm -f "$log"
  exit 0
fi
name="$1"
shift
mkdir -p "$(dirname "$log")"
start=$SECONDS
"$@"
rc=$?
status=ok
((rc == 0)) || status="failed(rc=$rc)"
echo "$name $((SECONDS - start)) $status" >>"$log"
exit $rc
