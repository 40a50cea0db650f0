#!/usr/bin/env bash
# `make trace-screenshot`: a screenshot of one task's trace in the trace UI (Zipkin, which
# `make up TRACING=1` runs): submits a sleep task to svc-tasks with a traceparent of its own, waits
# until it completed and Zipkin holds its trace (spans of svc-tasks, svc-executor, svc-notify),
# and saves the trace's page, every span expanded. checks/browser/trace-screenshot.mjs says how.
#
#   TASKFLOW_CHROMIUM            the browser (default /usr/bin/chromium)
#   TASKFLOW_TRACE_SCREENSHOT    where to save it (default .taskflow/trace-screenshot.png)
#   TRACE_SCREENSHOT_WAIT_MS     deadline of each wait (default 90000)
#
# On failure: .taskflow/trace-screenshot-failure.png (what the page showed, when it got that far).
# The npm packages live in the cache (~/.cache/taskflow/browser, from
# checks/browser/package-lock.json via deploy/install-tools.sh), shared with dashboard-check.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${TASKFLOW_API_URL:?source .taskflow/dev.env first}" "${TASKFLOW_API_KEY:?source .taskflow/dev.env first}"
: "${TASKFLOW_TRACE_UI_URL:?TASKFLOW_TRACE_UI_URL is not in .taskflow/dev.env: the trace UI is not running (make up TRACING=1)}"
: "${OTEL_EXPORTER_OTLP_ENDPOINT:?OTEL_EXPORTER_OTLP_ENDPOINT is not in .taskflow/dev.env (make up TRACING=1)}"

cache="${TASKFLOW_CACHE:-$HOME/.cache/taskflow}"
modules="$cache/browser"
chromium="${TASKFLOW_CHROMIUM:-/usr/bin/chromium}"
if [[ ! -x "$chromium" || ! -d "$modules/node_modules/puppeteer-core" ]] ||
  ! cmp -s checks/browser/package-lock.json "$modules/package-lock.json"; then
  deploy/install-tools.sh
fi

ui_origin="${TASKFLOW_TRACE_UI_URL%/}"
ui_origin="${ui_origin%/zipkin}"
for piece in "svc-tasks $TASKFLOW_API_URL/health/ready" "zipkin $ui_origin/health"; do
  if ! curl -fsS -o /dev/null --max-time 5 "${piece#* }"; then
    echo "trace-screenshot: ${piece% *} does not answer at ${piece#* } (make up TRACING=1)" >&2
    exit 1
  fi
done

export TASKFLOW_CHROMIUM="$chromium" TASKFLOW_BROWSER_MODULES="$modules"
exec node checks/browser/trace-screenshot.mjs
