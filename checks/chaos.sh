#!/usr/bin/env bash
# `make chaos`: seeded faults against the running stack under steady load, each run reconciled
# with a stock Kafka/Avro client and the services' databases (checks/chaos/run.py says how).
#   make chaos                  every fault once, in an order drawn from a random seed
#   make chaos RUNS=20 SEED=7   20 runs, repeatable
#   make chaos FAULTS=kill-executor,crash-postgres   these faults, in this order
# Runs against `make up`'s stack with two executors (restores the count it found afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${KAFKA_BOOTSTRAP_SERVERS:?source .taskflow/dev.env first (make chaos does)}"

cache="${TASKFLOW_CACHE:-$HOME/.cache/taskflow}"
venv="$cache/chaos-venv"
if ! "$venv/bin/python" -c 'import confluent_kafka.schema_registry.avro, psycopg' 2>/dev/null; then
  echo "chaos: installing confluent-kafka and psycopg for Python into $venv (once per machine)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "confluent-kafka[avro,schemaregistry]==2.16.1" "psycopg[binary]==3.3.9"
fi

# The reconciliation's own checks first: each broken promise must be flagged.
if ! checks="$("$venv/bin/python" -m unittest discover -s checks/chaos -p 'test_*.py' 2>&1)"; then
  printf '%s\nchaos: the tests of the reconciliation itself (checks/chaos/test_judge.py) failed\n' "$checks" >&2
  exit 1
fi

before="${TASKFLOW_EXECUTORS:-1}"
status=0
"$venv/bin/python" checks/chaos/run.py ${RUNS:+--runs "$RUNS"} ${SEED:+--seed "$SEED"} ${FAULTS:+--faults "$FAULTS"} || status=$?
if [[ "$before" != 2 ]]; then EXECUTORS="$before" deploy/up.sh >/dev/null; fi
exit "$status"
