#!/usr/bin/env bash
# `make seed`: demo data for the dashboard and the CLI right after `make up` — two tenants with
# a mix of tasks (sleeps with progress, http calls, failing and retrying ones, a delayed one)
# and a few schedules. Idempotent per tenant: a tenant that exists already gets new tasks, not a
# second copy of its schedules. Keys of the demo tenants: .taskflow/secrets/seed-<name>.key.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${TASKFLOW_API_URL:?source .taskflow/dev.env first (make seed does)}"
: "${TASKFLOW_ADMIN_TOKEN:?}" "${TASKFLOW_SCHEDULER_URL:?}" "${TASKFLOW_NOTIFY_URL:?}"
secrets=.taskflow/secrets
mkdir -p "$secrets"

say() { printf '[seed] %s\n' "$*"; }
api() { # METHOD PATH [BODY] with the admin token; prints the body, fails on >= 400
  curl -fsS -X "$1" -H "Authorization: Bearer $TASKFLOW_ADMIN_TOKEN" \
    ${3:+-H 'Content-Type: application/json' -d "$3"} "$TASKFLOW_API_URL$2"
}
as_tenant() { # KEY URL METHOD [BODY]
  curl -fsS -X "$3" -H "Authorization: Bearer $1" -H 'Content-Type: application/json' "$2" ${4:+-d "$4"}
}

# The tenant's key: from an earlier seed, or a new tenant (or a new key for it).
tenant_key() {
  local name="$1" file="$secrets/seed-$1.key" created id
  if [[ -s "$file" ]]; then cat "$file"; return; fi
  if created="$(api POST /v1/admin/tenants "{\"name\": \"$name\"}" 2>/dev/null)"; then
    python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])' <<<"$created" >"$file"
  else
    # The tenant exists but its key file is gone (keys are shown once): find the tenant by name
    # and issue it a new key.
    id="$(api GET "/v1/admin/tenants?name=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$name")" |
      python3 -c 'import json,sys; items = json.load(sys.stdin)["items"]; print(items[0]["tenant_id"] if items else "")')"
    [[ -n "$id" ]] || { say "could not create tenant $name, and no tenant has that name" >&2; exit 1; }
    say "tenant $name exists but $file was lost: issuing it a new key" >&2
    api POST "/v1/admin/tenants/$id/keys" | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])' >"$file"
  fi
  cat "$file"
}

batch() { # KEY NAME: one batch of mixed tasks
  local key="$1" name="$2" body
  body="$(python3 - "$name" <<'PY'
import json, random, sys
name = sys.argv[1]
random.seed(name)
tasks = []
for i in range(8):
    tasks.append({"type": "sleep", "payload": {"duration_ms": random.randint(2000, 20000), "steps": random.randint(4, 10)},
                  "priority": random.choice(["low", "normal", "high"]), "labels": {"demo": name, "kind": "report"}})
for i in range(4):
    tasks.append({"type": "noop", "labels": {"demo": name, "kind": "ping"}})
# Nothing listens on this port of make up's task range: attempts fail and are retried.
tasks.append({"type": "http", "payload": {"url": "http://127.0.0.1:18250/webhook", "method": "POST", "body": "{}"},
              "max_attempts": 4, "labels": {"demo": name, "kind": "webhook"}})
tasks.append({"type": "fail", "payload": {"message": "invoice 42 has no customer", "retryable": False},
              "labels": {"demo": name, "kind": "invoice"}})
tasks.append({"type": "fail", "payload": {"message": "upstream busy"}, "max_attempts": 3,
              "labels": {"demo": name, "kind": "sync"}})
tasks.append({"type": "sleep", "payload": {"duration_ms": 3000, "steps": 3}, "delay_ms": 60000,
              "labels": {"demo": name, "kind": "later"}})
print(json.dumps({"tasks": tasks}))
PY
)"
  as_tenant "$key" "$TASKFLOW_API_URL/v1/tasks:batch" POST "$body" >/dev/null
}

schedules() { # KEY NAME: a few schedules, once per tenant
  local key="$1" name="$2" existing
  existing="$(as_tenant "$key" "$TASKFLOW_SCHEDULER_URL/v1/schedules" GET 2>/dev/null || true)"
  if grep -q '"heartbeat"' <<<"$existing"; then return; fi
  as_tenant "$key" "$TASKFLOW_SCHEDULER_URL/v1/schedules" POST \
    "{\"name\": \"heartbeat\", \"task\": {\"type\": \"noop\", \"labels\": {\"demo\": \"$name\"}}, \"spec\": {\"every\": \"PT30S\"}}" >/dev/null
  as_tenant "$key" "$TASKFLOW_SCHEDULER_URL/v1/schedules" POST \
    "{\"name\": \"nightly report\", \"task\": {\"type\": \"sleep\", \"payload\": {\"duration_ms\": 5000, \"steps\": 5}}, \"spec\": {\"cron\": \"0 2 * * *\", \"timezone\": \"Europe/Berlin\"}, \"jitter\": \"PT5M\"}" >/dev/null
  as_tenant "$key" "$TASKFLOW_SCHEDULER_URL/v1/schedules" POST \
    "{\"name\": \"weekday sync\", \"task\": {\"type\": \"sleep\", \"payload\": {\"duration_ms\": 8000, \"steps\": 4}}, \"spec\": {\"cron\": \"*/5 9-17 * * MON-FRI\", \"timezone\": \"America/New_York\"}, \"overlap\": \"buffer_one\"}" >/dev/null
}

for name in acme globex; do
  key="$(tenant_key "$name")"
  # The scheduler learns keys from svc-tasks' key events: wait until it knows this one.
  for _ in $(seq 1 60); do
    as_tenant "$key" "$TASKFLOW_SCHEDULER_URL/v1/schedules" GET >/dev/null 2>&1 && break
    sleep 0.5
  done
  batch "$key" "$name"
  schedules "$key" "$name"
  say "$name: 17 tasks submitted (sleeps with progress, pings, a webhook that retries, failures, one delayed 60 s), 3 schedules; key in $secrets/seed-$name.key"
done
say "watch them: $TASKFLOW_NOTIFY_URL/ (sign in with a key above), or: taskflow watch --all --api-key \"\$(cat $secrets/seed-acme.key)\""
