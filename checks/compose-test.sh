#!/usr/bin/env bash
# `make compose-test`: the compose stack started for real and tried through its entry point, in a
# project of its own (TASKFLOW_COMPOSE_PROJECT=taskflow-test, state in .taskflow/compose/test/,
# entry port COMPOSE_TEST_PORT, default 18089; Kafka and the registry on 127.0.0.1 at
# COMPOSE_TEST_KAFKA_PORT 18087 and COMPOSE_TEST_REGISTRY_PORT 18088), so a `make compose-up`
# stack is left alone.
#   1. from nothing: its volumes deleted, then deploy/compose/run.sh up (builds what changed)
#   2. checks/compose_test.py work: routes, 100 tasks across an executor kill, SSE, a schedule
#   3. checks/foreign-client-check.sh, the stock Kafka/Avro client of `make test`, against this
#      stack's Kafka and registry through the addresses its dev.env gives the host
#   4. stop (volumes kept) and start again; compose_test.py kept: the data survived
#   5. down with its volumes; no container of the project is left
# Prints how long each step took.
set -euo pipefail
cd "$(dirname "$0")/.."
export TASKFLOW_COMPOSE_PROJECT=taskflow-test TASKFLOW_COMPOSE_STATE=.taskflow/compose/test
export TASKFLOW_ENTRY_PORT="${COMPOSE_TEST_PORT:-18089}"
export TASKFLOW_KAFKA_HOST_PORT="${COMPOSE_TEST_KAFKA_PORT:-18087}"
export TASKFLOW_REGISTRY_HOST_PORT="${COMPOSE_TEST_REGISTRY_PORT:-18088}"
# The stock-client check compiles a small Rust publisher; outside `make` too, not into the clone.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/taskflow/target}"
log() { printf '[compose-test] %s\n' "$*"; }
t0=$SECONDS
times=()
step() { local name="$1" s=$SECONDS; shift; "$@"; times+=("$name $((SECONDS - s))s"); }
cleanup() {
  local rc=$?
  if ((rc != 0)); then
    log "FAILED; the stack's containers:"
    deploy/compose/run.sh tails || true
    VOLUMES=1 deploy/compose/run.sh down >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

step down-before env VOLUMES=1 deploy/compose/run.sh down
step up-cold deploy/compose/run.sh up
# shellcheck disable=SC1091
source .taskflow/compose/test/dev.env
step work python3 checks/compose_test.py work .taskflow/compose/test/state.json
step foreign-client timeout 300 checks/foreign-client-check.sh
step down-keep deploy/compose/run.sh down
# The images were built by the first up: start them again as they are.
step up-again env BUILD=0 deploy/compose/run.sh up
# shellcheck disable=SC1091
source .taskflow/compose/test/dev.env
step kept python3 checks/compose_test.py kept .taskflow/compose/test/state.json
step down-all env VOLUMES=1 deploy/compose/run.sh down
trap - EXIT
log "green in $((SECONDS - t0))s: ${times[*]}"
