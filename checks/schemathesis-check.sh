#!/usr/bin/env bash
# Fuzzes the running svc-tasks (`make up`, 127.0.0.1:18090), then svc-scheduler (18096) and
# svc-notify (18095), each as a tenant created for the run, each against its own OpenAPI document with
# schemathesis, an outside property-based API tester from PyPI: every check it has, a bounded
# number of generated requests per operation, the dev tenant's key and the admin token for the
# two security schemes (checks/schemathesis.toml). Fails on any server error, response that does
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
# checks/schemathesis_hooks.py keeps the fuzzer's tasks harmless for the running executor
# (http tasks go to 127.0.0.1:9, sleeps are short) and gives a reused Idempotency-Key a fresh
# value when the body differs; read it before trusting a green run.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${TASKFLOW_API_URL:?source .taskflow/dev.env first}" "${TASKFLOW_API_KEY:?}" "${TASKFLOW_ADMIN_TOKEN:?}"
: "${TASKFLOW_SCHEDULER_URL:?}" "${TASKFLOW_NOTIFY_URL:?}"

# The venv is made from CPython 3.12 or newer: on 3.11 (3.11.7 seen here) hypothesis' lambda
# descriptions, built with `ast` from two worker threads at once, crash with "SystemError: AST
# constructor recursion depth mismatch" (CPython gh-106905, a race on state the 3.11 AST
# constructor shares between threads). Every package is pinned (schemathesis-requirements.txt),
# so a new hypothesis release cannot change the run either; the venv is keyed by that file.
requirements=checks/schemathesis-requirements.txt
cache="${TASKFLOW_CACHE:-$HOME/.cache/taskflow}"
venv="$cache/schemathesis-venv-$(sha256sum "$requirements" | cut -c1-12)"
python_3_12_or_newer() {
  local candidate
  for candidate in python3.13 python3.12 python3.14 "$HOME"/.pyenv/versions/3.1[234].*/bin/python3 python3; do
    candidate="$(command -v "$candidate" 2>/dev/null)" || continue
    if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      printf '%s' "$candidate"
      return 0
    fi
  done
  return 1
}
# A venv cannot move (its scripts name their interpreter by path): made in place, and only a
# complete install leaves the .complete stamp; anything else is made again.
if [[ ! -f "$venv/.complete" ]]; then
  python="$(python_3_12_or_newer)" || {
    echo "schemathesis-check: needs CPython 3.12 or newer (3.11's ast crashes under schemathesis' workers); none found (python3.12, python3.13, ~/.pyenv)" >&2
    exit 1
  }
  echo "schemathesis-check: installing $requirements into $venv with $("$python" --version) (once per machine)"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  touch "$venv/.complete"
fi
version="$("$venv/bin/st" --version | awk '{print $NF}')"

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
    TASKFLOW_API_KEY="$3" PYTHONPATH="$root/checks${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=schemathesis_hooks \
      "$venv/bin/st" --config-file "$root/checks/schemathesis.toml" run "$2/openapi.json" "${args[@]}"
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
