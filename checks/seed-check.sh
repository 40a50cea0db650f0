#!/usr/bin/env bash
# `make test`: `make seed` (deploy/seed.sh) against the running stack, twice in a row, then once
# more after one demo tenant's key file was lost. Checks that each run succeeds, that a second run
# adds tasks but no second copy of a tenant's schedules, and that a lost key file is answered
# with a new working key for the same tenant (found by name: GET /v1/admin/tenants?name=).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${TASKFLOW_API_URL:?source .taskflow/dev.env first}" "${TASKFLOW_SCHEDULER_URL:?}"

secrets=.taskflow/secrets
fail() { printf 'seed-check: FAIL %s\n' "$*" >&2; exit 1; }
count_schedules() { # KEY NAME: how many schedules called NAME the tenant has
  curl -fsS --max-time 10 -H "Authorization: Bearer $1" "$TASKFLOW_SCHEDULER_URL/v1/schedules?limit=500" |
    python3 -c 'import json,sys; print(sum(1 for s in json.load(sys.stdin)["items"] if s["name"] == sys.argv[1]))' "$2"
}
tasks_of() { # KEY: how many tasks the tenant has (up to 500)
  curl -fsS --max-time 10 -H "Authorization: Bearer $1" "$TASKFLOW_API_URL/v1/tasks?limit=500" |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin)["tasks"]))'
}
tenant_view() { # KEY: the ids of the oldest tasks a key sees (the same list for keys of one tenant)
  curl -fsS --max-time 10 -H "Authorization: Bearer $1" "$TASKFLOW_API_URL/v1/tasks?limit=500" |
    python3 -c 'import json,sys; print(" ".join(sorted(t["id"] for t in json.load(sys.stdin)["tasks"])[:20]))'
}

deploy/seed.sh >/dev/null || fail "the first make seed failed"
acme="$(<"$secrets/seed-acme.key")"
first_tasks="$(tasks_of "$acme")"
deploy/seed.sh >/dev/null || fail "the second make seed failed"
[[ "$(<"$secrets/seed-acme.key")" == "$acme" ]] || fail "the second run replaced acme's key"
(($(tasks_of "$acme") > first_tasks)) || fail "the second run submitted no new tasks for acme"
for name in heartbeat "nightly report" "weekday sync"; do
  n="$(count_schedules "$acme" "$name")"
  [[ "$n" == 1 ]] || fail "acme has $n schedules named '$name' after two runs (want 1)"
done

# Keys are shown once: with the file gone, seed finds the tenant by name and issues a new key.
rm -f "$secrets/seed-acme.key"
deploy/seed.sh >/dev/null || fail "make seed after the key file was lost failed"
renewed="$(<"$secrets/seed-acme.key")"
[[ "$renewed" != "$acme" ]] || fail "no new key was issued"
tenant="$(tenant_view "$acme")"
[[ -n "$tenant" && "$(tenant_view "$renewed")" == "$tenant" ]] || fail "the new key belongs to another tenant"
echo "seed-check: make seed ran 3 times (twice in a row, once after a lost key file); schedules not doubled, new key for the same tenant"
