#!/usr/bin/env bash
# End-to-end check of svc-notify's browser dashboard against the running services (`make up`):
# Debian's headless Chromium, driven by puppeteer-core (npm), signs in with the dev tenant's key,
# follows a sleep task submitted to svc-tasks from pending through its progress to completed,
# opens its timeline by keyboard, and (when svc-tasks allows the dashboard's origin) submits and
# cancels a task from the page. checks/browser/dashboard-check.mjs says what each step checks.
#
#   TASKFLOW_CHROMIUM          the browser (default /usr/bin/chromium)
#   DASHBOARD_CHECK_WAIT_MS    deadline of each wait (default 60000)
#
# Output: .taskflow/dashboard.png; on failure .taskflow/dashboard-failure.png and the page's
# console in .taskflow/dashboard-console.log. The npm packages live in the cache
# (~/.cache/taskflow/browser, from checks/browser/package-lock.json via deploy/install-tools.sh)
# so that fresh clones reuse them.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${TASKFLOW_API_URL:?source .taskflow/dev.env first}" "${TASKFLOW_API_KEY:?source .taskflow/dev.env first}"
: "${TASKFLOW_NOTIFY_URL:?TASKFLOW_NOTIFY_URL is not in .taskflow/dev.env: svc-notify is not running (make up)}"

cache="${TASKFLOW_CACHE:-$HOME/.cache/taskflow}"
modules="$cache/browser"
chromium="${TASKFLOW_CHROMIUM:-/usr/bin/chromium}"
if [[ ! -x "$chromium" || ! -d "$modules/node_modules/puppeteer-core" ]] ||
  ! cmp -s checks/browser/package-lock.json "$modules/package-lock.json"; then
  deploy/install-tools.sh
fi

for service in "svc-tasks $TASKFLOW_API_URL" "svc-notify $TASKFLOW_NOTIFY_URL"; do
  if ! curl -fsS -o /dev/null --max-time 5 "${service#* }/health/ready"; then
    echo "dashboard-check: ${service% *} at ${service#* } is not ready (make up)" >&2
    exit 1
  fi
done

export TASKFLOW_CHROMIUM="$chromium" TASKFLOW_BROWSER_MODULES="$modules" TASKFLOW_DASHBOARD_OUT=.taskflow
node checks/browser/dashboard-check.mjs
# Then svc-tasks' interactive API reference (Swagger UI at /docs).
exec node checks/browser/api-docs-check.mjs
