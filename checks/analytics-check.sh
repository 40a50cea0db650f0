#!/usr/bin/env bash
# Executes docs/analytics.md against the running stack (`make up`): submits a known mix of tasks
# labelled with a run id (3 noop, 3 sleep of 50/100/150 ms, 1 fail without retries), waits until
# they ended, then
#   1. `taskflow tap --all --group analytics.<run> --from <start>` into events.jsonl, loaded with
#      docs/analytics-tap.sql, and
#   2. docs/analytics_kafka.py (confluent-kafka's stock Avro deserializer straight into DuckDB),
# and runs docs/analytics.sql, the queries the walk-through shows, over each. The counts per type
# and status, the run times against the sleeps asked for, and the labels must match what was
# submitted, and both ways must give the same rows. A second read by each group must resume where
# the first stopped (none of the run's events again).
#
# Needs: source .taskflow/dev.env. Installs duckdb into the foreign-client check's venv (once per
# machine) and builds the taskflow CLI if it is missing (TASKFLOW_CLI points at another binary).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${TASKFLOW_API_URL:?source .taskflow/dev.env first}" "${TASKFLOW_API_KEY:?}" \
  "${KAFKA_BOOTSTRAP_SERVERS:?}" "${SCHEMA_REGISTRY_URL:?}"
started=$SECONDS

cache="${TASKFLOW_CACHE:-$HOME/.cache/taskflow}"
venv="$cache/foreign-client-venv"
if ! "$venv/bin/python" -c 'import confluent_kafka.schema_registry.avro' 2>/dev/null; then
  echo "analytics-check: installing confluent-kafka for Python into $venv (once per machine)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "confluent-kafka[avro,schemaregistry]==2.16.1"
fi
if ! "$venv/bin/python" -c 'import duckdb' 2>/dev/null; then
  echo "analytics-check: installing duckdb for Python into $venv (once per machine)"
  "$venv/bin/pip" install --quiet "duckdb==2.0.0"
fi
py="$venv/bin/python"

cli="${TASKFLOW_CLI:-${CARGO_TARGET_DIR:-$HOME/.cache/taskflow/target}/debug/taskflow}"
if [[ ! -x "$cli" && -z "${TASKFLOW_CLI:-}" ]]; then
  echo "analytics-check: building the taskflow CLI ($cli)"
  cargo build --quiet -p taskflow-cli
fi

if ! curl -fsS -o /dev/null --max-time 5 "$TASKFLOW_API_URL/health/ready"; then
  echo "analytics-check: svc-tasks at $TASKFLOW_API_URL is not ready (make up)" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run=$("$py" -c 'import uuid; print(uuid.uuid4())')
# Every record of this run is written after this instant (same clock, millisecond precision).
since=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)

"$py" checks/analytics_check.py tasks "$run" > "$work/batch.json"
curl -fsS --max-time 10 -X POST "$TASKFLOW_API_URL/v1/tasks:batch" \
  -H "Authorization: Bearer $TASKFLOW_API_KEY" -H 'Content-Type: application/json' \
  --data-binary "@$work/batch.json" > "$work/submitted.json"
"$py" checks/analytics_check.py wait "$work/submitted.json"

# 1. The tap, as docs/analytics.md runs it (from this run's start instead of the beginning).
group="check-$run"
"$cli" tap --all --from "$since" --group "analytics.$group" > "$work/events.jsonl"
"$cli" tap --all --group "analytics.$group" > "$work/events-again.jsonl"

# 2. The stock client, as docs/analytics.md runs it.
for again in "" -again; do
  from=(--from "$since")
  [[ -n "$again" ]] && from=()
  if ! "$py" docs/analytics_kafka.py --group "analytics.$group-kafka" "${from[@]}" \
      --db "$work/kafka$again.duckdb" 2> "$work/kafka.log"; then
    cat "$work/kafka.log" >&2
    exit 1
  fi
done

"$py" checks/analytics_check.py verify "$run" "$work" "$((SECONDS - started))"
