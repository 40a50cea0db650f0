#!/usr/bin/env bash
# Fuzzes the running svc-tasks (`make up`, 127.0.0.1:18090), then svc-scheduler (18096) and
# svc-notify (18095), each as a tenant created for the run, each against its own OpenAPI document with
# schemathesis, an outside property-based API tester from PyPI: every check it has, a bounded
# number of generated requests per operation, the dev tenant's key and the admin token for the
# two security schemes (deploy/schemathesis.toml). Fails on any server error, response that does
# not match the document, accepted invalid input, refused valid input, missing 401/405, etc.
#
#   SCHEMATHESIS_MAX_EXAMPLES  examples per operation and phase (default 100: ~2,400 requests
#                              per service, a minute or two each here)
#   SCHEMATHESIS_NOTIFY_MAX_EXAMPLES  the same for svc-notify (default 50: it stays under a minute)
#   SCHEMATHESIS_SEED          replay a run (schemathesis prints the seed it used)
#
# svc-notify's SSE streams (/v1/stream, /v1/tasks/{task_id}/stream) and its WebSocket upgrade
# (/v1/ws) are documented but not fuzzed: a stream the caller may read never ends by itself, so
# every accepted request would only end at the request timeout, which schemathesis reports as a
# failure; their refusals (400/401/403/404 before any stream starts) are covered by svc-notify's
# integration tests (svc-notify/tests/it/refusals.rs) instead.
#
# deploy/schemathesis_hooks.py keeps the fuzzer's tasks harmless for the running executor
# (http tasks go to 127.0.0.1:9, sleeps are short) and gives a reused Idempotency-Key a fresh
# value when the body differs; read it before trusting a green run.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${TASKFLOW_API_URL:?source .taskflow/dev.env first}" "${TASKFLOW_API_KEY:?}" "${TASKFLOW_ADMIN_TOKEN:?}"
: "${TASKFLOW_SCHEDULER_URL:?}" "${TASKFLOW_NOTIFY_URL:?}"

version=4.32.5
cache="${TASKFLOW_CACHE:-$HOME/.cache/taskflow}"
venv="$cache/schemathesis-venv"
if [[ "$("$venv/bin/st" --version 2>/dev/null)" != *" $version" ]]; then
  echo "schemathesis-check: installing schemathesis $version into $venv (once per machine)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "schemathesis==$version"
fi

for url in "$TASKFLOW_API_URL" "$TASKFLOW_SCHEDULER_URL" "$TASKFLOW_NOTIFY_URL"; do
  if ! curl -fsS -o /dev/null --max-time 5 "$url/health/ready"; then
    echo "schemathesis-check: $url is not ready (make up)" >&2
    exit 1
  fi
done

# A tenant of its own for svc-scheduler and for svc-notify, which learn API keys from svc-tasks'
# key events: wait until the service knows the new key (as deploy/seed.sh does).
tenant_key() { # service-name probe-url
  local created
  created="$(curl -fsS --max-time 10 -X POST -H "Authorization: Bearer $TASKFLOW_ADMIN_TOKEN" \
    -H 'Content-Type: application/json' "$TASKFLOW_API_URL/v1/admin/tenants" \
    -d "{\"name\": \"schemathesis-$1-$(date +%s)-$$\"}")"
  key="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])' <<<"$created")"
  for _ in $(seq 120); do
    if curl -fsS -o /dev/null --max-time 5 -H "Authorization: Bearer $key" "$2"; then
      return
    fi
    sleep 0.5
  done
  echo "schemathesis-check: $1 did not learn the new tenant's key within 60 s" >&2
  exit 1
}

# schemathesis and hypothesis keep caches (.schemathesis/, .hypothesis/) in the working
# directory: run them in ours, which also holds the reports of the last run.
root="$PWD"
fuzz() { # name base-url api-key [max-examples [schemathesis options...]]
  local report_dir=".taskflow/schemathesis/$1" started=$SECONDS
  local examples="${4:-${SCHEMATHESIS_MAX_EXAMPLES:-100}}"
  rm -rf "$report_dir"
  mkdir -p "$report_dir"
  local args=(
    --checks all
    --max-examples "$examples"
    --workers 2
    --request-timeout 10
    --generation-database none
    --report junit,ndjson --report-dir "$root/$report_dir"
  )
  args+=("${@:5}")
  [[ -n "${SCHEMATHESIS_SEED:-}" ]] && args+=(--seed "$SCHEMATHESIS_SEED")
  echo "schemathesis-check: schemathesis $version against $2/openapi.json (report in $report_dir)"
  (
    cd "$report_dir"
    TASKFLOW_API_KEY="$3" PYTHONPATH="$root/deploy${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=schemathesis_hooks \
      "$venv/bin/st" --config-file "$root/deploy/schemathesis.toml" run "$2/openapi.json" "${args[@]}"
  )
  echo "schemathesis-check: $1 passed in $((SECONDS - started)) s"
}

rm -rf .taskflow/schemathesis
fuzz svc-tasks "$TASKFLOW_API_URL" "$TASKFLOW_API_KEY"
tenant_key svc-scheduler "$TASKFLOW_SCHEDULER_URL/v1/schedules"
fuzz svc-scheduler "$TASKFLOW_SCHEDULER_URL" "$key"
tenant_key svc-notify "$TASKFLOW_NOTIFY_URL/v1/overview"
fuzz svc-notify "$TASKFLOW_NOTIFY_URL" "$key" "${SCHEMATHESIS_NOTIFY_MAX_EXAMPLES:-50}" \
  --exclude-path /v1/stream --exclude-path '/v1/tasks/{task_id}/stream' --exclude-path /v1/ws
