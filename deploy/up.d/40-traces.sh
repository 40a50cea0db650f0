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
#   dev.env  OTEL_EXPORTER_OTLP_ENDPOINT (OTLP/HTTP base URL), TASKFLOW_TRACES_URL (Jaeger's
#            query API, what the tests ask) and TASKFLOW_TRACE_UI_URL (the trace UI, Zipkin's)
#   UI       Jaeger's built-in page is a placeholder: the Jaeger UI (a JavaScript app) is not in
#            any package registry, so `go build` cannot embed it. The query API works regardless;
#            TASKFLOW_JAEGER_UI=<dir of a built jaeger-ui> makes Jaeger serve the real UI.
#
# The trace UI is Zipkin's (zipkin-lens), which is on Maven Central:
#   jar      $TASKFLOW_CACHE/zipkin-<version>/zipkin-server-exec.jar (io.zipkin:zipkin-server:
#            <version>:jar:exec through deploy/traces/pom.xml), run on Java 17+ (find_java)
#   process  run/zipkin.pid, logs/zipkin.log, working directory .taskflow/zipkin
#   ports    UI and API on 127.0.0.1:19411 (UI under /zipkin/, a trace at /zipkin/traces/{id})
#   fed by   Jaeger's kafka exporter (deploy/traces/jaeger.yaml.in): every span Jaeger receives
#            goes Zipkin-encoded to the Kafka topic `zipkin` (one partition, an hour kept),
#            which Zipkin's Kafka collector reads as consumer group `zipkin`
#
# Traces live in memory only (Jaeger: the newest 20,000 traces; Zipkin: the newest 50,000 spans):
# `make down` or a restart forgets them. deploy/down.d/60-traces.sh stops both, after the
# services (which flush their spans on the way out).
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
  conf="${conf//@KAFKA_PORT@/$KAFKA_PORT}"
  conf="${conf//@ZIPKIN_TOPIC@/$ZIPKIN_TOPIC}"
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

# Download the Zipkin server's exec jar from Maven Central into $ZIPKIN_HOME (once per machine).
traces_zipkin_install() {
  [[ -f "$ZIPKIN_JAR" ]] && return 0
  lock_cache
  if [[ ! -f "$ZIPKIN_JAR" ]]; then
    local tmp="$ZIPKIN_HOME.tmp.$$" artifact="io.zipkin:zipkin-server:$ZIPKIN_VERSION:jar:exec"
    info "downloading Zipkin $ZIPKIN_VERSION (the trace UI) from Maven Central into $ZIPKIN_HOME (once per machine, ~130 MB)"
    rm -rf "$tmp"
    mvn_cached -f "$DEPLOY_DIR/traces/pom.xml" dependency:copy -Dartifact="$artifact" \
      -DoutputDirectory="$tmp" ||
      { rm -rf "$tmp"; unlock_cache; die "downloading $artifact failed (Maven output above; full log $(rel "$INSTALL_LOG"))"; }
    mv "$tmp/zipkin-server-$ZIPKIN_VERSION-exec.jar" "$tmp/zipkin-server-exec.jar" ||
      { rm -rf "$tmp"; unlock_cache; die "$artifact: no zipkin-server-$ZIPKIN_VERSION-exec.jar in the download"; }
    rm -rf "$ZIPKIN_HOME"
    mv "$tmp" "$ZIPKIN_HOME"
    # The copy in the cache is what runs: drop the one in the Maven repository.
    rm -rf "$M2_REPO/io/zipkin/zipkin-server/$ZIPKIN_VERSION"
  fi
  unlock_cache
}

# The command Zipkin runs with, into the array ZIPKIN_CMD. Everything is on the command line
# (Spring properties outrank the environment variables zipkin-server.yml reads, e.g. a
# KAFKA_BOOTSTRAP_SERVERS from a sourced dev.env), so a changed setting shows in its cmdline.
ZIPKIN_CMD=()
traces_zipkin_cmd() {
  local java
  java="$(find_java 17)" || die "Zipkin (the trace UI) needs Java 17 or newer and none was found or installable"
  ZIPKIN_CMD=(
    "$java" "${ZIPKIN_HEAP[@]}" "$JVM_MARKER" -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError
    -Djava.awt.headless=true -jar "$ZIPKIN_JAR"
    # HTTP (UI, query API, health) on loopback only
    "--armeria.ports[0].ip=$HOST" "--armeria.ports[0].port=$ZIPKIN_PORT" "--armeria.ports[0].protocols[0]=http"
    --zipkin.storage.type=mem "--zipkin.storage.mem.max-spans=$ZIPKIN_MAX_SPANS"
    "--zipkin.collector.kafka.bootstrap-servers=$HOST:$KAFKA_PORT"
    "--zipkin.collector.kafka.topic=$ZIPKIN_TOPIC" --zipkin.collector.kafka.group-id=zipkin
    --zipkin.collector.grpc.enabled=false
    --zipkin.ui.environment=taskflow
  )
}

# Why the running Zipkin (PID) should be restarted (prints a reason), or nothing.
traces_zipkin_stale_reason() {
  local pid="$1" running
  traces_zipkin_cmd
  running="$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null)" || running=""
  if [[ "$running" != "$(printf '%s\n' "${ZIPKIN_CMD[@]}")" ]]; then
    printf 'its command line changed (version, Java or settings)'
  fi
}

# The topic Jaeger writes and Zipkin reads, made before either would auto-create it with the
# broker's defaults (12 partitions, a week kept).
traces_zipkin_topic() {
  "$DEPLOY_DIR/kafka/cli.sh" topics --create --if-not-exists --topic "$ZIPKIN_TOPIC" --partitions 1 \
    --config retention.ms=3600000 --config retention.bytes=268435456 >>"$ZIPKIN_LOG" 2>&1 8>&- 9>&- ||
    die_with_log zipkin "creating its Kafka topic $ZIPKIN_TOPIC failed" "$ZIPKIN_LOG"
}

# Start Zipkin unless ours runs with the current command; waiting for it is traces_up's.
traces_zipkin_start() {
  local pid reason
  if pid="$(our_pid zipkin)"; then
    reason="$(traces_zipkin_stale_reason "$pid")"
    [[ -n "$reason" ]] || return 0
    info "restarting zipkin: $reason"
    stop_piece zipkin 10
  fi
  require_port_free zipkin "$ZIPKIN_PORT"
  traces_zipkin_cmd
  mkdir -p "$ZIPKIN_DIR" "$LOG_DIR"
  traces_zipkin_topic
  info "starting Zipkin $ZIPKIN_VERSION (the trace UI) on $TRACE_UI_URL ($(java_label "${ZIPKIN_CMD[0]}"))"
  (
    cd "$ZIPKIN_DIR" || exit 1 # where a JVM crash file (hs_err_pid*.log) would land
    start_detached zipkin "$ZIPKIN_LOG" "${ZIPKIN_CMD[@]}"
  )
  our_pid zipkin >/dev/null || die_with_log zipkin "the JVM exited right away" "$ZIPKIN_LOG"
  record_health_url zipkin "$ZIPKIN_URL/health"
}

traces_start() {
  require_port_free jaeger-otlp "$JAEGER_OTLP_HTTP_PORT"
  require_port_free jaeger-ui "$JAEGER_UI_PORT"
  require_port_free jaeger-query-grpc "$JAEGER_QUERY_GRPC_PORT"
  mkdir -p "$JAEGER_DIR"
  traces_config >"$TRACES_CONFIG"
  info "starting Jaeger $JAEGER_RELEASE: OTLP/HTTP on $TRACES_OTLP_ENDPOINT, query API on $TRACES_UI_URL"
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
    if our_pid zipkin >/dev/null; then stop_piece zipkin 10; fi
    rm -f "$RUN_DIR/jaeger.url" "$RUN_DIR/zipkin.url"
    return 0
  fi
  # keep: on only while ours runs.
  if [[ "$mode" == keep ]] && ! our_pid jaeger >/dev/null; then return 0; fi

  traces_install
  traces_zipkin_install
  # Zipkin first (a JVM: it starts while Jaeger does), so that its topic exists before Jaeger
  # writes to it.
  traces_zipkin_start
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
  pid="$(our_pid zipkin)" || die_with_log zipkin "the JVM exited" "$ZIPKIN_LOG"
  wait_for zipkin 120 "$ZIPKIN_LOG" "$pid" zipkin_answers
  devenv_export OTEL_EXPORTER_OTLP_ENDPOINT "$TRACES_OTLP_ENDPOINT"
  devenv_export TASKFLOW_TRACES_URL "$TRACES_UI_URL"
  devenv_export TASKFLOW_TRACE_UI_URL "$TRACE_UI_URL"
  summary_add jaeger "$TRACES_UI_URL (API: /api/traces/{id}; OTLP in :$JAEGER_OTLP_HTTP_PORT)" "$JAEGER_LOG"
  summary_add zipkin "$TRACE_UI_URL (trace UI)" "$ZIPKIN_LOG"
}

traces_up
