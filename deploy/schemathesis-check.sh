#!/usr/bin/env bash
# Fuzzes the running svc-tasks (`make up`, 127.0.0.1:18090) against its own OpenAPI document with
# schemathesis, an outside property-based API tester from PyPI: every check it has, a bounded
# number of generated requests per operation, the dev tenant's key and the admin token for the
# two security schemes (deploy/schemathesis.toml). Fails on any server error, response that does
# not match the document, accepted invalid input, refused valid input, missing 401/405, etc.
#
#   SCHEMATHESIS_MAX_EXAMPLES  examples per operation and phase (default 100: ~2,400 requests,
#                              under a minute here)
#   SCHEMATHESIS_SEED          replay a run (schemathesis prints the seed it used)
#
# deploy/schemathesis_hooks.py keeps the fuzzer's tasks harmless for the running executor
# (http tasks go to 127.0.0.1:9, sleeps are short) and gives a reused Idempotency-Key a fresh
# value when the body differs; read it before trusting a green run.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${TASKFLOW_API_URL:?source .taskflow/dev.env first}" "${TASKFLOW_API_KEY:?}" "${TASKFLOW_ADMIN_TOKEN:?}"

version=4.32.5
cache="${TASKFLOW_CACHE:-$HOME/.cache/taskflow}"
venv="$cache/schemathesis-venv"
if [[ "$("$venv/bin/st" --version 2>/dev/null)" != *" $version" ]]; then
  echo "schemathesis-check: installing schemathesis $version into $venv (once per machine)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "schemathesis==$version"
fi

if ! curl -fsS -o /dev/null --max-time 5 "$TASKFLOW_API_URL/health/ready"; then
  echo "schemathesis-check: svc-tasks at $TASKFLOW_API_URL is not ready (make up)" >&2
  exit 1
fi

# schemathesis and hypothesis keep caches (.schemathesis/, .hypothesis/) in the working
# directory: run them in ours, which also holds the reports of the last run.
root="$PWD"
report_dir=.taskflow/schemathesis
rm -rf "$report_dir"
mkdir -p "$report_dir"
args=(
  --checks all
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-100}"
  --workers 2
  --request-timeout 10
  --generation-database none
  --report junit,ndjson --report-dir "$root/$report_dir"
)
[[ -n "${SCHEMATHESIS_SEED:-}" ]] && args+=(--seed "$SCHEMATHESIS_SEED")
echo "schemathesis-check: schemathesis $version against $TASKFLOW_API_URL/openapi.json (report in $report_dir)"
started=$SECONDS
(
  cd "$report_dir"
  PYTHONPATH="$root/deploy${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=schemathesis_hooks \
    "$venv/bin/st" --config-file "$root/deploy/schemathesis.toml" run "$TASKFLOW_API_URL/openapi.json" "${args[@]}"
)
echo "schemathesis-check: passed in $((SECONDS - started)) s"
