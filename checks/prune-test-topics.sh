#!/usr/bin/env bash
# `make test`, before the tests: deletes the topics earlier test runs left on the dev broker
# (`it-<id>.*`: every integration test's own prefix). They are never read again, and they add up:
# a full run leaves ~3,000 partitions, and a broker holding ~20,000 ran out of open files here
# ("Too many open files", the broker stopped) and took minutes to recover its logs on restart.
# Only this prefix: the stack's own topics, bench runs' and chaos runs' are left alone. Run it
# while no other test run uses the broker.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[prune-test-topics] %s\n' "$*"; }

left=$(deploy/kafka/cli.sh topics --list 2>/dev/null | grep -c '^it-' || true)
if ((left == 0)); then
  log "no test topics left by earlier runs"
  exit 0
fi
log "deleting $left test topics left by earlier runs (it-*)"
deploy/kafka/cli.sh topics --delete --topic 'it-.*' >/dev/null
log "ok"
