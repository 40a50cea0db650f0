# shellcheck shell=bash
# `make up` hook (sourced by deploy/up.sh after PostgreSQL, Kafka and the registry are up and
# .taskflow/dev.env is written, before the services; deploy/lib.sh is loaded): the trace backend.
#
# `make up TRACING=1` builds (once per machine) and runs Jaeger v2 with in-memory storage; the
# services' hooks then give every service the OTEL_* settings of `otel_settings` (deploy/lib.sh),
# so each exports its spans there. `make up TRACING=0` stops it (the services restart without
# export). Without TRACING, `make up` keeps what runs: tracing stays on while our Jaeger runs
# (so `make test` or `make bench` after `make up TRACING=1` keep it), and off otherwise.
#
#   binary   $TASKFLOW_CACHE/jaeger-<release>/bin/jaeger, `go build` of the Go module
#            github.com/jaegertracing/jaeger (cmd/jaeger) from the Go module proxy; the Go module
#            and build caches it needs (~3 GB) are removed once the binary exists
#   process  run/jaeger.pid, logs/jaeger.log, config .taskflow/jaeger/config.yaml
#            (from deploy/traces/jaeger.yaml.in)
#   ports    OTLP/HTTP in on 127.0.0.1:14318; UI and query API (GET /api/traces/{trace_id}) on
#            127.0.0.1:16686; query gRPC on 127.0.0.1:16685
#   dev.env  OTEL_EXPORTER_OTLP_ENDPOINT (OTLP/HTTP base URL) and TASKFLOW_TRACES_URL (the UI)
#   UI       Jaeger's built-in page is a placeholder: the Jaeger UI (a JavaScript app) is not in
#            any package registry, so `go build` cannot embed it. The query API works regardless;
#            TASKFLOW_JAEGER_UI=<dir of a built jaeger-ui> makes Jaeger serve the real UI.
#
# Traces live in memory only (the newest 20,000): `make down` or a restart forgets them.
# deploy/down.d/60-traces.sh stops it, after the services (which flush their spans on the way out).
#
# Everything here is a function prefixed traces_ (this file runs inside up.sh's shell).

TRACES_MAX_TRACES=20000
TRACES_CONFIG="$JAEGER_DIR/config.yaml"
TRACES_GO_MODCACHE="$CACHE_DIR/go/mod"
TRACES_GO_CACHE="$CACHE_DIR/go/build"

# on, off or keep, from TRACING.
traces_mode() {
  case "${TRACING:-}" in
    "") printf keep ;;
    1 | true | yes | on) printf on ;;
    0 | false | no | off) printf off ;;
    *) die "TRACING must be 1 (start the trace backend) or 0 (stop it), got '$TRACING'" ;;
  esac
}

# Run a go command with the module and build caches inside $CACHE_DIR, output to logs/install.log.
traces_go() {
  printf '\n===== %s: go %s =====\n' "$(date -u +%FT%TZ)" "$*" >>"$INSTALL_LOG"
  GOMODCACHE="$TRACES_GO_MODCACHE" GOCACHE="$TRACES_GO_CACHE" go "$@" 2>>"$INSTALL_LOG" </dev/null 8>&- 9>&-
}

# Build Jaeger from its Go module into $JAEGER_HOME. `go install module@version` refuses this
# module (its go.mod has a replace directive), so the module's source is downloaded from the
# proxy (checksums verified against the Go checksum database) and built as the main module, with
# its own go.mod and go.sum: the same dependency versions as the Jaeger release.
traces_build() {
  need_cmd go golang-go
  local module="github.com/jaegertracing/jaeger@v$JAEGER_MODULE_VERSION" tmp="$JAEGER_HOME.tmp.$$" src t0
  t0="$SECONDS"
  mkdir -p "$LOG_DIR"
  info "building Jaeger $JAEGER_RELEASE (Go module $module) into $JAEGER_HOME (once per machine, ~15 min on 2 cores; output in $(rel "$INSTALL_LOG"))"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  src="$(traces_go mod download -json "$module" |
    python3 -c 'import json, sys; print(json.load(sys.stdin).get("Dir", ""))')" || src=""
  if [[ -z "$src" || ! -f "$src/go.mod" ]]; then
    rm -rf "$tmp"
    tail -n 20 "$INSTALL_LOG" | sed 's/^/    /' >&2
    die "downloading the Go module $module failed (full log $(rel "$INSTALL_LOG"))"
  fi
  cp -r "$src" "$tmp/src"
  chmod -R u+w "$tmp/src" # the module cache is read-only
  if ! (cd "$tmp/src" && traces_go build -trimpath \
    -ldflags "-s -w -X github.com/jaegertracing/jaeger/internal/version.latestVersion=v$JAEGER_RELEASE" \
    -o "$tmp/bin/jaeger" ./cmd/jaeger >>"$INSTALL_LOG"); then
    rm -rf "$tmp"
    tail -n 30 "$INSTALL_LOG" | sed 's/^/    /' >&2
    die "building Jaeger failed (full log $(rel "$INSTALL_LOG")); the Go caches in $CACHE_DIR/go are kept for the next try"
  fi
  "$tmp/bin/jaeger" version >>"$INSTALL_LOG" 2>&1 || { rm -rf "$tmp"; die "the Jaeger binary just built does not run (see $(rel "$INSTALL_LOG"))"; }
  rm -rf "$JAEGER_HOME"
  mkdir -p "$JAEGER_HOME"
  mv "$tmp/bin" "$JAEGER_HOME/bin"
  rm -rf "$tmp"
  # Only the binary is needed from now on: give the module and build caches' disk space back.
  traces_go clean -modcache || true
  rm -rf "$TRACES_GO_CACHE"
  rmdir "$CACHE_DIR/go" 2>/dev/null || true
  info "built Jaeger $JAEGER_RELEASE in $((SECONDS - t0))s"
}

traces_install() {
  [[ -x "$JAEGER_BIN" ]] && return 0
  lock_cache
  [[ -x "$JAEGER_BIN" ]] || traces_build
  unlock_cache
}

# A built Jaeger UI to serve (TASKFLOW_JAEGER_UI: a directory with its index.html), or nothing.
traces_ui_assets() {
  local dir="${TASKFLOW_JAEGER_UI:-}"
  [[ -n "$dir" ]] || return 0
  [[ -f "$dir/index.html" ]] || die "TASKFLOW_JAEGER_UI=$dir has no index.html (point it at a built jaeger-ui, e.g. its packages/jaeger-ui/build)"
  readlink -f "$dir"
}

# The configuration Jaeger should run with (deploy/traces/jaeger.yaml.in, filled in).
traces_config() {
  local conf
  conf="$(<"$DEPLOY_DIR/traces/jaeger.yaml.in")"
  conf="${conf//@HOST@/$HOST}"
  conf="${conf//@OTLP_HTTP_PORT@/$JAEGER_OTLP_HTTP_PORT}"
  conf="${conf//@UI_PORT@/$JAEGER_UI_PORT}"
  conf="${conf//@QUERY_GRPC_PORT@/$JAEGER_QUERY_GRPC_PORT}"
  conf="${conf//@MAX_TRACES@/$TRACES_MAX_TRACES}"
  conf="${conf//@UI_ASSETS@/$(traces_ui_assets)}"
  printf '%s\n' "$conf"
}

# Why the running Jaeger (PID) should be restarted (prints a reason), or nothing.
traces_stale_reason() {
  local pid="$1"
  if [[ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" != "$(readlink -f "$JAEGER_BIN")" ]]; then
    printf 'it runs another binary than %s' "$JAEGER_BIN"
  elif [[ "$(cat "$TRACES_CONFIG" 2>/dev/null)" != "$(traces_config)" ]]; then
    printf 'its configuration changed'
  fi
}

traces_start() {
  require_port_free jaeger-otlp "$JAEGER_OTLP_HTTP_PORT"
  require_port_free jaeger-ui "$JAEGER_UI_PORT"
  require_port_free jaeger-query-grpc "$JAEGER_QUERY_GRPC_PORT"
  mkdir -p "$JAEGER_DIR"
  traces_config >"$TRACES_CONFIG"
  info "starting Jaeger $JAEGER_RELEASE: OTLP/HTTP on $TRACES_OTLP_ENDPOINT, UI on $TRACES_UI_URL"
  (
    cd "$JAEGER_DIR" || exit 1
    # A soft memory limit: the in-memory store is bounded by trace count, this keeps the GC honest.
    start_detached jaeger "$JAEGER_LOG" GOMEMLIMIT=768MiB "$JAEGER_BIN" --config "$TRACES_CONFIG"
  )
  record_health_url jaeger "$TRACES_UI_URL/api/services"
}

traces_up() {
  local mode pid reason
  mode="$(traces_mode)"
  if [[ "$mode" == off ]]; then
    if our_pid jaeger >/dev/null; then
      info "TRACING=0: stopping the trace backend (the services restart without span export)"
      stop_piece jaeger 10
    fi
    rm -f "$RUN_DIR/jaeger.url"
    return 0
  fi
  # keep: on only while ours runs.
  if [[ "$mode" == keep ]] && ! our_pid jaeger >/dev/null; then return 0; fi

  traces_install
  if pid="$(our_pid jaeger)"; then
    reason="$(traces_stale_reason "$pid")"
    if [[ -n "$reason" ]]; then
      info "restarting jaeger: $reason"
      stop_piece jaeger 10
      traces_start
    fi
  else
    traces_start
  fi
  pid="$(our_pid jaeger)" || die_with_log jaeger "the process exited right away" "$JAEGER_LOG"
  wait_for jaeger 60 "$JAEGER_LOG" "$pid" traces_answers
  devenv_export OTEL_EXPORTER_OTLP_ENDPOINT "$TRACES_OTLP_ENDPOINT"
  devenv_export TASKFLOW_TRACES_URL "$TRACES_UI_URL"
  summary_add jaeger "$TRACES_UI_URL (traces: /api/traces/{id}; OTLP in :$JAEGER_OTLP_HTTP_PORT)" "$JAEGER_LOG"
}

traces_up
