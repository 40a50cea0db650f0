#!/usr/bin/env bash
# `make up`: make sure PostgreSQL, Kafka and the schema registry run for this clone, then write
# .taskflow/dev.env and say where everything is.
#
# Idempotent: a piece that already runs (ours, and answering) is left alone, so a second run on a
# healthy system only re-checks and re-prints. Downloads happen once per machine into
# ${TASKFLOW_CACHE:-$HOME/.cache/taskflow}; data, pidfiles and logs stay in <repo>/.taskflow/.
set -euo pipefail
# shellcheck source=deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

T0="$(now_ms)"

preflight() {
  need_cmd python3 python3 # Kafka readiness probe (deploy/kafka/probe.py)
  need_cmd curl curl       # registry readiness and configuration
  need_cmd flock util-linux
  need_cmd setsid util-linux
}

# --- PostgreSQL ----------------------------------------------------------------------------------

ensure_pg_installed() {
  [[ -x "$PG_BIN/initdb" ]] && return 0
  ((EUID == 0)) || die "PostgreSQL 15 is not installed ($PG_BIN/initdb missing): sudo apt-get install -y postgresql-15"
  info "installing PostgreSQL 15 (apt-get, once per machine)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
  [[ -x "$PG_BIN/initdb" ]] || die "apt-get install postgresql-15 did not provide $PG_BIN/initdb"
}

# Create the data directory, owned by whoever will run the server. Normally it is
# .taskflow/postgres/data. Exception: as root the server runs as `postgres`, which must be able to
# reach the directory; if the clone sits somewhere it cannot (say under /root, mode 0700), the
# data goes to /var/tmp/taskflow-postgres-<hash of this clone's path>/data and
# .taskflow/postgres/data becomes a symlink to it.
pg_prepare_data_dir() {
  mkdir -p "$STATE_DIR/postgres"
  local data
  if [[ -L "$PG_DATA_LINK" ]]; then
    data="$(readlink -f "$PG_DATA_LINK")"
  else
    data="$PG_DATA_LINK"
    if ((EUID == 0)) && [[ ! -d "$data" ]]; then
      chmod go+x "$STATE_DIR" "$STATE_DIR/postgres" # a umask of 077 would lock postgres out
      if ! runuser -u postgres -- test -x "$STATE_DIR/postgres"; then
        data="/var/tmp/taskflow-postgres-$(printf '%s' "$STATE_DIR" | sha256sum | cut -c1-12)/data"
        warn "the postgres OS user cannot reach $STATE_DIR: keeping PostgreSQL's data in $data (symlinked from $(rel "$PG_DATA_LINK"))"
        mkdir -p "$(dirname "$data")"
        ln -sfn "$data" "$PG_DATA_LINK"
      fi
    fi
  fi
  mkdir -p "$data"
  chmod 700 "$data"
  if ((EUID == 0)); then chown postgres:postgres "$data"; fi
  printf '%s' "$data"
}

pg_init() {
  local data="$1" pwfile
  info "initialising a PostgreSQL 15 cluster in $data"
  pwfile="$(mktemp)"
  printf '%s\n' "$PG_PASSWORD" >"$pwfile"
  chmod 644 "$pwfile" # read by initdb running as postgres
  # Superuser `taskflow` (password taskflow); password auth (scram) for every connection.
  if ! "${PG_AS_OWNER[@]}" "$PG_BIN/initdb" -D "$data" -U "$PG_USER" --pwfile="$pwfile" \
    --auth-local=scram-sha-256 --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 \
    >>"$PG_LOG" 2>&1; then
    rm -f "$pwfile"
    die_with_log postgres "initdb failed" "$PG_LOG"
  fi
  rm -f "$pwfile"
  # Our settings live in taskflow.conf (rewritten on every start), included last so they win.
  printf "\n# TaskFlow: settings from deploy/postgres/postgresql.conf.in\ninclude_if_exists = 'taskflow.conf'\n" |
    "${PG_AS_OWNER[@]}" tee -a "$data/postgresql.conf" >/dev/null
}

pg_write_conf() {
  local data="$1" conf
  conf="$(<"$DEPLOY_DIR/postgres/postgresql.conf.in")"
  conf="${conf//@PG_PORT@/$PG_PORT}"
  printf '%s\n' "$conf" | "${PG_AS_OWNER[@]}" tee "$data/taskflow.conf" >/dev/null
}

pg_create_databases() {
  local list db
  list="$(printf "'%s'," "${PG_DATABASES[@]}")"
  # CREATE DATABASE only for the names that do not exist yet.
  pg_psql -d postgres -At >/dev/null <<SQL
SET client_min_messages = warning;
SELECT format('CREATE DATABASE %I', d) FROM unnest(ARRAY[${list%,}]) AS d
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = d) \gexec
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
SQL
  # Each service's role (named like its database, see PG_SERVICE_DATABASES; its password is its
  # name here) owns its database, nobody else may connect to it, and tables made before the role
  # are handed over: the same script the compose stack runs (deploy/compose/postgres-init.sh).
  for db in "${PG_SERVICE_DATABASES[@]}"; do
    TASKFLOW_ROLE_PASSWORD="$db" pg_psql -d postgres -At -v role="$db" \
      -f "$DEPLOY_DIR/postgres/service-role.sql" >/dev/null || return 1
  done
}

pg_up() {
  if pg_pid >/dev/null; then
    # Ours and running (perhaps still starting up): just make sure it answers.
    wait_for postgres 60 "$PG_LOG" "$(pg_pid)" pg_answers
  else
    require_port_free postgres "$PG_PORT"
    ensure_pg_installed
    local data
    data="$(pg_prepare_data_dir)"
    [[ -f "$data/PG_VERSION" ]] || pg_init "$data"
    pg_write_conf "$data"
    info "starting PostgreSQL on $HOST:$PG_PORT"
    rotate_log "$PG_LOG"
    printf '\n===== %s: starting postgres =====\n' "$(date -u +%FT%TZ)" >>"$PG_LOG"
    # No -l: the server inherits pg_ctl's stdout, our log file (opened here, so the postgres
    # user needs no write access to .taskflow/logs). setsid: the server leaves make's session.
    # -t 300: after a crash the server first replays the WAL written since its last checkpoint;
    # on a big, busy dev database that took over a minute here (make chaos, crash-postgres).
    setsid -w "${PG_AS_OWNER[@]}" "$PG_BIN/pg_ctl" -D "$data" -w -t 300 start >>"$PG_LOG" 2>&1 </dev/null 8>&- 9>&- ||
      die_with_log postgres "pg_ctl start failed" "$PG_LOG"
    wait_for postgres 30 "$PG_LOG" "" pg_answers
  fi
  pg_create_databases || die_with_log postgres "could not create the databases" "$PG_LOG"
}

# --- Kafka ---------------------------------------------------------------------------------------

ensure_kafka_installed() {
  local home
  home="$(kafka_home)"
  [[ -f "$home/.complete" ]] && return 0
  lock_cache
  if [[ ! -f "$home/.complete" ]]; then
    info "downloading Kafka $KAFKA_VERSION jars from Maven Central into $home (once per machine)"
    local tmp="$home.tmp.$$"
    rm -rf "$tmp"
    mvn_cached -f "$DEPLOY_DIR/kafka/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$tmp/libs" ||
      { rm -rf "$tmp"; die "downloading the Kafka jars failed (Maven output above; full log $(rel "$INSTALL_LOG"))"; }
    touch "$tmp/.complete"
    rm -rf "$home"
    mv "$tmp" "$home"
  fi
  unlock_cache
}

kafka_write_conf() {
  local conf
  conf="$(<"$DEPLOY_DIR/kafka/server.properties.in")"
  conf="${conf//@BROKER_PORT@/$KAFKA_PORT}"
  conf="${conf//@CONTROLLER_PORT@/$KAFKA_CONTROLLER_PORT}"
  conf="${conf//@LOG_DIRS@/$KAFKA_DIR/data}"
  conf="${conf//@PARTITIONS@/$TASK_PARTITIONS}"
  printf '%s\n' "$conf" >"$KAFKA_DIR/server.properties"
}

KAFKA_PID=""
kafka_start() {
  if KAFKA_PID="$(our_pid kafka)"; then
    return 0 # ours; kafka_wait checks it answers
  fi
  [[ "$TASK_PARTITIONS" =~ ^[1-9][0-9]*$ ]] || die "TASKFLOW_TASK_PARTITIONS must be a positive integer, got '$TASK_PARTITIONS'"
  require_port_free kafka "$KAFKA_PORT"
  require_port_free kafka-controller "$KAFKA_CONTROLLER_PORT"
  ensure_kafka_installed
  local java home
  java="$(find_java 17)" || die "Kafka needs Java 17 or newer and none was found or installable"
  home="$(kafka_home)"
  mkdir -p "$KAFKA_DIR/data"
  kafka_write_conf
  local jvm=("$java" -Dlog4j2.configurationFile="$DEPLOY_DIR/kafka/log4j2.properties" -cp "$home/libs/*")
  if [[ ! -f "$KAFKA_DIR/data/meta.properties" ]]; then
    # KRaft storage is formatted once, as a single-node dynamic quorum (KIP-853).
    local cluster_id
    cluster_id="$(python3 -c 'import base64,uuid; print(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))')"
    info "formatting Kafka storage (cluster id $cluster_id)"
    # `--cluster-id=ID`, not `-t ID`: a base64url id may start with '-' and would be read as an option.
    "${jvm[@]}" kafka.tools.StorageTool format --standalone --cluster-id="$cluster_id" \
      -c "$KAFKA_DIR/server.properties" >>"$KAFKA_LOG" 2>&1 ||
      die_with_log kafka "formatting the storage failed" "$KAFKA_LOG"
  fi
  info "starting Kafka $KAFKA_VERSION on $HOST:$KAFKA_PORT ($(java_label "$java"))"
  (
    cd "$KAFKA_DIR" # where a JVM crash file (hs_err_pid*.log) would land
    start_detached kafka "$KAFKA_LOG" "${jvm[0]}" "${KAFKA_HEAP[@]}" "$JVM_MARKER" \
      -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
      "${jvm[@]:1}" kafka.Kafka "$KAFKA_DIR/server.properties"
  )
  KAFKA_PID="$(our_pid kafka)" || die_with_log kafka "the JVM exited right away" "$KAFKA_LOG"
}

# After an unclean stop (kill -9, power loss) the broker checks every partition's log before it
# answers: ~10 s per 1,000 partitions here, and a dev broker collects thousands from test runs.
# Allow 90 s plus that, so `make up` (and `make chaos`' kill-kafka) waits the recovery out.
kafka_wait() {
  local partitions
  partitions="$(find "$KAFKA_DIR/data" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l)"
  wait_for kafka $((90 + partitions / 50)) "$KAFKA_LOG" "$KAFKA_PID" kafka_answers
}

# --- schema registry (Apicurio Registry 3, Confluent-compatible API) -----------------------------

ensure_registry_installed() {
  [[ -f "$REGISTRY_DIST/quarkus-run.jar" ]] && return 0
  lock_cache
  if [[ ! -f "$REGISTRY_DIST/quarkus-run.jar" ]]; then
    info "downloading Apicurio Registry $REGISTRY_VERSION from Maven Central into $REGISTRY_DIST (once per machine, ~160 MB)"
    local tmp="$REGISTRY_DIST.tmp.$$" artifact="io.apicurio:apicurio-registry-app:$REGISTRY_VERSION:tar.gz:all"
    rm -rf "$tmp"
    mkdir -p "$tmp/dist"
    mvn_cached -f "$DEPLOY_DIR/registry/pom.xml" dependency:copy -Dartifact="$artifact" \
      -DoutputDirectory="$tmp/download" ||
      { rm -rf "$tmp"; die "downloading $artifact failed (Maven output above; full log $(rel "$INSTALL_LOG"))"; }
    tar -xzf "$tmp"/download/*.tar.gz -C "$tmp/dist" || { rm -rf "$tmp"; die "unpacking $artifact failed"; }
    [[ -f "$tmp/dist/quarkus-run.jar" ]] || { rm -rf "$tmp"; die "$artifact has no quarkus-run.jar at its top"; }
    rm -rf "$REGISTRY_DIST"
    mv "$tmp/dist" "$REGISTRY_DIST"
    rm -rf "$tmp"
    # The unpacked copy is what runs: drop the 160 MB tarball from the Maven repository.
    rm -rf "$M2_REPO/io/apicurio/apicurio-registry-app/$REGISTRY_VERSION"
  fi
  unlock_cache
}

REGISTRY_PID=""
registry_start() {
  if REGISTRY_PID="$(our_pid registry)"; then
    return 0
  fi
  require_port_free registry "$REGISTRY_PORT"
  require_port_free registry-management "$REGISTRY_MGMT_PORT"
  ensure_registry_installed
  local java
  java="$(find_java 21)" || die "the schema registry (Quarkus) needs Java 21 or newer and none was found or installable"
  mkdir -p "$REGISTRY_DIR/tmp"
  info "starting Apicurio Registry $REGISTRY_VERSION on $HOST:$REGISTRY_PORT ($(java_label "$java"))"
  (
    # Quarkus also reads ./config/application.properties: run from our own directory.
    cd "$REGISTRY_DIR"
    # Storage is PostgreSQL (database taskflow_registry), not the in-memory default: Kafka records
    # carry schema ids, which must mean the same after a restart.
    # Dev/test conveniences: deletion of subjects/versions allowed (off by default in Apicurio 3;
    # tests clean up their throwaway subjects), and GET /subjects lists up to 100000 subjects
    # instead of 1000 (the registry is persistent, so test subjects accumulate).
    # The management interface (health/metrics) is built in and would listen on 0.0.0.0:9000.
    start_detached registry "$REGISTRY_LOG" \
      QUARKUS_HTTP_HOST="$HOST" QUARKUS_HTTP_PORT="$REGISTRY_PORT" \
      QUARKUS_MANAGEMENT_HOST="$HOST" QUARKUS_MANAGEMENT_PORT="$REGISTRY_MGMT_PORT" \
      APICURIO_STORAGE_KIND=sql \
      APICURIO_STORAGE_SQL_KIND=postgresql \
      APICURIO_DATASOURCE_URL="jdbc:postgresql://$HOST:$PG_PORT/taskflow_registry" \
      APICURIO_DATASOURCE_USERNAME="$PG_USER" APICURIO_DATASOURCE_PASSWORD="$PG_PASSWORD" \
      APICURIO_DATASOURCE_JDBC_INITIAL_SIZE=2 APICURIO_DATASOURCE_JDBC_MIN_SIZE=2 \
      APICURIO_DATASOURCE_JDBC_MAX_SIZE=20 \
      APICURIO_REST_DELETION_GROUP_ENABLED=true \
      APICURIO_REST_DELETION_ARTIFACT_ENABLED=true \
      APICURIO_REST_DELETION_ARTIFACT_VERSION_ENABLED=true \
      APICURIO_CCOMPAT_MAX_SUBJECTS=100000 \
      QUARKUS_LOG_CONSOLE_FORMAT='%d{yyyy-MM-dd HH:mm:ss,SSS} %-5p [%c{3.}] (%t) %s%e%n' \
      APICURIO_STORAGE_SNAPSHOT_LOCATION="$REGISTRY_DIR/tmp" APICURIO_IMPORT_WORK_DIR="$REGISTRY_DIR/tmp" \
      "$java" "${REGISTRY_HEAP[@]}" "$JVM_MARKER" -XX:+ExitOnOutOfMemoryError \
      -Djava.io.tmpdir="$REGISTRY_DIR/tmp" -jar "$REGISTRY_DIST/quarkus-run.jar"
  )
  REGISTRY_PID="$(our_pid registry)" || die_with_log registry "the JVM exited right away" "$REGISTRY_LOG"
}

registry_wait() { wait_for registry 120 "$REGISTRY_LOG" "$REGISTRY_PID" registry_answers; }

# Global compatibility BACKWARD (stored in PostgreSQL with the schemas, so set once; re-checked
# on every run because it is one cheap GET).
registry_configure() {
  local level
  level="$(registry_compat)" || die_with_log registry "GET $REGISTRY_CCOMPAT/config failed" "$REGISTRY_LOG"
  [[ "$level" == BACKWARD ]] && return 0
  info "setting the registry's global compatibility to BACKWARD (was: ${level:-unset})"
  curl -fsS --max-time 10 -X PUT -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
    --data '{"compatibility":"BACKWARD"}' "$REGISTRY_CCOMPAT/config" >/dev/null ||
    die_with_log registry "PUT $REGISTRY_CCOMPAT/config failed" "$REGISTRY_LOG"
  level="$(registry_compat)"
  [[ "$level" == BACKWARD ]] || die_with_log registry "global compatibility reads '$level' after setting BACKWARD" "$REGISTRY_LOG"
}

# --- outputs -------------------------------------------------------------------------------------

write_dev_env() {
  mkdir -p "$STATE_DIR"
  cat >"$DEV_ENV.new" <<EOF
# Generated by deploy/up.sh on every \`make up\`: do not edit (add variables from a deploy/up.d hook).
# Use: source .taskflow/dev.env
EOF
  mv "$DEV_ENV.new" "$DEV_ENV"
  devenv_export KAFKA_BOOTSTRAP_SERVERS "$HOST:$KAFKA_PORT"
  devenv_export SCHEMA_REGISTRY_URL "$REGISTRY_CCOMPAT"
  devenv_export DATABASE_URL_TASKS "$(pg_service_url taskflow_tasks)"
  devenv_export DATABASE_URL_EXECUTOR "$(pg_service_url taskflow_executor)"
  devenv_export DATABASE_URL_NOTIFY "$(pg_service_url taskflow_notify)"
  devenv_export DATABASE_URL_SCHEDULER "$(pg_service_url taskflow_scheduler)"
  # The superuser on the maintenance database: for tests that create and drop throwaway
  # databases, and for benchmarks.
  devenv_export DATABASE_URL_ADMIN "$(pg_url postgres)"
  devenv_export TASKFLOW_TASK_PARTITIONS "$TASK_PARTITIONS"
}

run_hooks() {
  local hook
  for hook in "$DEPLOY_DIR"/up.d/*.sh; do
    [[ -f "$hook" ]] || continue
    # shellcheck source=/dev/null
    source "$hook"
  done
}

print_summary() {
  local elapsed=$(($(now_ms) - T0))
  printf '\nTaskFlow local infrastructure is up (%d.%ds):\n' $((elapsed / 1000)) $((elapsed % 1000 / 100))
  printf '  %-16s %-52s %s\n' piece address log
  local line
  for line in "${SUMMARY[@]}"; do printf '%s\n' "$line"; done
  printf '\nEnvironment for the services and tests (%s):\n    source %s\n' \
    "$(grep -c '^export ' "$DEV_ENV") variables" "$(rel "$DEV_ENV")"
  printf 'Stop: make down   State: make status   Logs: make logs\n'
}

# Before starting anything: a port taken by someone else fails now, not after PostgreSQL and
# Kafka were started for nothing. (Each start function checks again, right before starting.)
check_ports() {
  if ! pg_pid >/dev/null; then require_port_free postgres "$PG_PORT"; fi
  if ! our_pid kafka >/dev/null; then
    require_port_free kafka "$KAFKA_PORT"
    require_port_free kafka-controller "$KAFKA_CONTROLLER_PORT"
  fi
  if ! our_pid registry >/dev/null; then
    require_port_free registry "$REGISTRY_PORT"
    require_port_free registry-management "$REGISTRY_MGMT_PORT"
  fi
}

# `deploy/up.sh kafka`: (re)start only the broker, e.g. after a fault-injection test killed it.
kafka_only() {
  lock_state
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  preflight
  if ! our_pid kafka >/dev/null; then require_port_free kafka "$KAFKA_PORT"; fi
  kafka_start
  kafka_wait
}

main() {
  if [[ "${1:-}" == kafka ]]; then
    kafka_only
    return
  fi
  lock_state
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  preflight
  check_ports
  # The compiler works while PostgreSQL, Kafka and the registry start (hooks wait for it).
  services_build_start
  pg_up
  # The two JVMs start in parallel (the registry needs PostgreSQL, which is ready by now).
  kafka_start
  registry_start
  kafka_wait
  registry_wait
  registry_configure
  write_dev_env
  summary_add postgres "$HOST:$PG_PORT (user $PG_USER/$PG_PASSWORD)" "$PG_LOG"
  summary_add kafka "$HOST:$KAFKA_PORT (controller :$KAFKA_CONTROLLER_PORT)" "$KAFKA_LOG"
  summary_add registry "$REGISTRY_CCOMPAT" "$REGISTRY_LOG"
  run_hooks
  print_summary
}

main "$@"
