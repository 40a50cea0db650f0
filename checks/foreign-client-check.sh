#!/usr/bin/env bash
# Proves that a stock Kafka client that knows nothing of this repository (confluent-kafka for
# Python with its own schema-registry client) reads TaskFlow's contracts and records.
# Against whichever Kafka and registry the environment names: the native stack's
# (.taskflow/dev.env, in `make test`) or a compose stack's (.taskflow/compose/…/dev.env, in
# `make compose-test`).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${KAFKA_BOOTSTRAP_SERVERS:?source .taskflow/dev.env, or the dev.env of a compose stack, first}" "${SCHEMA_REGISTRY_URL:?}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/taskflow/target}"

cache="${TASKFLOW_CACHE:-$HOME/.cache/taskflow}"
venv="$cache/foreign-client-venv"
if ! "$venv/bin/python" -c 'import confluent_kafka.schema_registry.avro' 2>/dev/null; then
  echo "foreign-client-check: installing confluent-kafka for Python into $venv (once per machine)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "confluent-kafka[avro,schemaregistry]==2.16.1"
fi

prefix="foreign-$(date +%s)-$$."
samples=$(mktemp)
trap 'rm -f "$samples"' EXIT
cargo run --quiet -p taskflow-platform --example publish-samples -- "$prefix" > "$samples"
"$venv/bin/python" checks/foreign_client_check.py "$samples"
