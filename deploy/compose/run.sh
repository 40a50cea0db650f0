#!/usr/bin/env bash
# `make compose-up` / `compose-down` / `compose-logs`: TaskFlow in containers (deploy/compose.yaml).
#
#   up    [EXECUTORS=n] [TRACING=1]  build the four images, start everything, wait until it answers
#         [BUILD=0]                  through the entry point, write .taskflow/compose/dev.env;
#                                    BUILD=0 starts the images built before instead of building
#   down  [VOLUMES=1]                stop and remove the containers; data volumes stay unless VOLUMES=1
#   logs  [service…]                 follow the logs
#
# Engine: Docker with Compose v2 where it works; otherwise podman with podman-compose (PyPI,
# pinned, installed once into ~/.cache/taskflow/podman-compose-venv). Images compose.yaml names
# that cannot be pulled are built here under the same names (deploy/compose/images.sh).
# Everything this writes is under .taskflow/compose/: compose.env (the services' settings: a copy
# of deploy/.env.example with a generated TASKFLOW_ADMIN_TOKEN and a generated password for each
# service's PostgreSQL role in its DATABASE_URL_*; variables added to the example later are
# appended), dev.env (URLs and keys of this stack, Kafka's and the registry's addresses on the
# host), dev-tenant.json, containers.conf.
#
# PostgreSQL: each service connects as its own role (deploy/postgres/service-role.sql, the script
# `make up` runs). A new volume gets the roles from deploy/compose/postgres-init.sh; every `up`
# runs that script again inside the postgres container before the services start, so a volume
# made before the roles gets them, with its tables handed over, and a password changed in
# compose.env takes effect. An env file whose DATABASE_URL_* still name the superuser (made
# before the roles) is rewritten to the service's role with a generated password.
set -euo pipefail
cd "$(dirname "$0")/../.."

# A second stack beside the first (checks/compose-test.sh): its own project (containers,
# network, volumes), state directory under .taskflow/compose/ and entry port.
PROJECT="${TASKFLOW_COMPOSE_PROJECT:-taskflow}"
STATE="${TASKFLOW_COMPOSE_STATE:-.taskflow/compose}"
[[ "$STATE" == .taskflow/compose || "$STATE" == .taskflow/compose/* ]] || { echo "[compose] ERROR: TASKFLOW_COMPOSE_STATE must be under .taskflow/compose" >&2; exit 1; }
ENV_FILE=$STATE/compose.env
DEV_ENV=$STATE/dev.env
TENANT_FILE=$STATE/dev-tenant.json
PODMAN_COMPOSE_VERSION=1.6.0
SERVICES=(svc-tasks svc-executor svc-notify svc-scheduler)
# What the stack publishes on the host: the entry point, and on 127.0.0.1 Kafka and the registry.
HOST_PORTS=(TASKFLOW_ENTRY_PORT TASKFLOW_KAFKA_HOST_PORT TASKFLOW_REGISTRY_HOST_PORT)
CACHE="${TASKFLOW_CACHE:-$HOME/.cache/taskflow}"
log() { printf '[compose] %s\n' "$*"; }
die() { printf '[compose] ERROR: %s\n' "$*" >&2; exit 1; }
mkdir -p "$STATE"

# --- engine ---------------------------------------------------------------------------------
ENGINE=""
if command -v docker >/dev/null && docker info >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  ENGINE=docker
  compose=(docker compose)
elif command -v podman >/dev/null; then
  ENGINE=podman
  # Debian's podman here: crun refuses hybrid cgroups (runc works), and containers must be given
  # resource limits no higher than the machine's. A caller's own CONTAINERS_CONF wins.
  if [[ -z "${CONTAINERS_CONF:-}" ]]; then
    nofile=$(ulimit -Hn); nproc=$(ulimit -Hu)
    [[ "$nofile" == unlimited || "$nofile" -gt 20000 ]] && nofile=20000
    [[ "$nproc" == unlimited || "$nproc" -gt 4096 ]] && nproc=4096
    {
      echo "# written by deploy/compose/run.sh: limits within this machine's, runc where crun fails"
      echo "[containers]"
      echo "default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=$nproc:$nproc\"]"
      if command -v runc >/dev/null; then printf '[engine]\nruntime = "runc"\n'; fi
    } >"$STATE/containers.conf"
    export CONTAINERS_CONF="$PWD/$STATE/containers.conf"
  fi
  venv="$CACHE/podman-compose-venv"
  if [[ "$("$venv/bin/podman-compose" --version 2>/dev/null | head -n1)" != *"$PODMAN_COMPOSE_VERSION"* ]]; then
    log "installing podman-compose $PODMAN_COMPOSE_VERSION from PyPI into $venv (once per machine)"
    python3 -m venv "$venv" && "$venv/bin/pip" install --quiet "podman-compose==$PODMAN_COMPOSE_VERSION" ||
      die "installing podman-compose from PyPI failed"
  fi
  compose=("$venv/bin/podman-compose")
else
  die "no container engine: install Docker with Compose v2 (https://docs.docker.com/compose/install/) or podman (apt-get install podman runc)"
fi

# Compose lets the caller's environment win over the env file: a shell that sourced the native
# .taskflow/dev.env would hand its 127.0.0.1 addresses to the containers. Those names are unset.
run() {
  local unset=() name
  for name in $(sed -n 's/^\([A-Z][A-Z0-9_]*\)=.*/\1/p' "$ENV_FILE") OTEL_EXPORTER_OTLP_TRACES_ENDPOINT OTEL_TRACES_EXPORTER; do
    unset+=(-u "$name")
  done
  [[ -n "${COMPOSE_PROFILES:-}" ]] || unset+=(-u OTEL_EXPORTER_OTLP_ENDPOINT)
  env "${unset[@]}" "${compose[@]}" -p "$PROJECT" --env-file "$ENV_FILE" -f deploy/compose.yaml "$@"
}

# .taskflow/compose/compose.env: created once, then completed with any variable the example gained.
prepare_env() {
  python3 - deploy/.env.example "$ENV_FILE" <<'PY'
import re, secrets, sys
example, target = sys.argv[1], sys.argv[2]
lines = open(example).read().splitlines()
try:
    have = open(target).read()
except FileNotFoundError:
    have = None
# A service's database URL with its own role (user = database name) and a fresh password.
SERVICE_URL = re.compile(r"^(DATABASE_URL_[A-Z]+)=postgres://([^:@/]+):[^@/]*@([^/]+)/(taskflow_[a-z]+)$")
def own_role(line, rewrite_user=None):
    m = SERVICE_URL.match(line)
    if not m or (rewrite_user is not None and m.group(2) != rewrite_user):
        return line
    var, host, db = m.group(1), m.group(3), m.group(4)
    return f"{var}=postgres://{db}:{secrets.token_urlsafe(24)}@{host}/{db}"
if have is None:
    out = [f"TASKFLOW_ADMIN_TOKEN={secrets.token_urlsafe(32)}" if l.startswith("TASKFLOW_ADMIN_TOKEN=") else own_role(l)
           for l in lines]
    with open(target, "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"[compose] wrote {target} from {example} (admin token and database passwords generated)")
else:
    known = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", have, re.M))
    new = [l for l in lines if re.match(r"^[A-Z][A-Z0-9_]*=", l) and l.split("=", 1)[0] not in known]
    # Made before each service had its own role: the services connected as the superuser.
    old = have.splitlines()
    moved = [own_role(l, rewrite_user="taskflow") for l in old]
    if moved != old:
        with open(target, "w") as f:
            f.write("\n".join(moved) + "\n")
        names = [m.split("=", 1)[0] for m, o in zip(moved, old) if m != o]
        print(f"[compose] {target}: {', '.join(names)} now connect as the service's own role (password generated)")
    if new:
        with open(target, "a") as f:
            f.write("\n# added from deploy/.env.example\n" + "\n".join(new) + "\n")
        print(f"[compose] added {len(new)} new variables to {target}: " + ", ".join(l.split('=')[0] for l in new))
PY
  chmod 600 "$ENV_FILE"
  # Host ports given by the caller are written into this stack's env file.
  local name
  for name in "${HOST_PORTS[@]}"; do
    [[ -n "${!name:-}" ]] || continue
    [[ "${!name}" =~ ^[0-9]+$ ]] || die "$name must be a port number, got '${!name}'"
    sed -i -e "s/^$name=.*/$name=${!name}/" "$ENV_FILE"
  done
  if [[ -n "${TASKFLOW_ENTRY_PORT:-}" ]]; then
    sed -i -e "s|^TASKFLOW_API_URL=http://localhost:[0-9]*\$|TASKFLOW_API_URL=http://localhost:$TASKFLOW_ENTRY_PORT|" "$ENV_FILE"
  fi
}
env_value() { sed -n "s/^$1=//p" "$ENV_FILE" | tail -n1; }

# --- helpers ----------------------------------------------------------------------------------
containers_of() { "$ENGINE" ps -a -q --filter "label=com.docker.compose.project=$PROJECT" --filter "label=com.docker.compose.service=$1"; }
# Health of one container: its own healthcheck, run now (podman without systemd runs no timers).
healthy() {
  if [[ "$ENGINE" == podman ]]; then podman healthcheck run "$1" >/dev/null 2>&1
  else [[ "$(docker inspect --format '{{.State.Health.Status}}' "$1" 2>/dev/null)" == healthy ]]; fi
}
# /health/ready of a service, asked inside its container (bash's /dev/tcp; the services are not published).
ready() {
  local port="$2"
  "$ENGINE" exec "$1" bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && printf 'GET /health/ready HTTP/1.0\r\n\r\n' >&3 && IFS= read -r s <&3 && [[ \$s == *' 200 '* ]]" >/dev/null 2>&1
}
wait_until() { # WHAT SECONDS SERVICE cmd...: every container of SERVICE passes cmd
  local what="$1" secs="$2" svc="$3" deadline c ok
  shift 3
  deadline=$((SECONDS + secs))
  while :; do
    ok=1
    for c in $(containers_of "$svc"); do "$@" "$c" || { ok=0; break; }; done
    [[ -n "$(containers_of "$svc")" && $ok == 1 ]] && return 0
    if ((SECONDS >= deadline)); then
      log "$svc is not $what after ${secs}s; its last log lines:"
      for c in $(containers_of "$svc"); do "$ENGINE" logs --tail 25 "$c" 2>&1 | sed 's/^/    /'; done
      die "$svc did not become $what (make compose-logs shows more)"
    fi
    sleep 2
  done
}
# Each service's PostgreSQL role, made (or completed: password, ownership) by the same script a
# new volume runs, inside the postgres container as the superuser. The URLs go from this env file
# through `exec -e NAME` (value from this process's environment, not its command line); a
# container created before the env file changed still gets the current passwords. Retried:
# compose's first `healthy` may come while the server is still starting.
ensure_roles() {
  local c deadline=$((SECONDS + 60)) var out
  local urls=(DATABASE_URL_TASKS DATABASE_URL_EXECUTOR DATABASE_URL_NOTIFY DATABASE_URL_SCHEDULER) pass=()
  for var in "${urls[@]}"; do
    export "$var=$(env_value "$var")"
    pass+=(-e "$var")
  done
  c="$(containers_of postgres | head -n1)"
  [[ -n "$c" ]] || die "no postgres container of project $PROJECT"
  until out="$("$ENGINE" exec --user postgres "${pass[@]}" "$c" bash /docker-entrypoint-initdb.d/10-databases.sh 2>&1)"; do
    ((SECONDS < deadline)) || { printf '%s\n' "$out" | sed 's/^/    /' >&2; die "making the services' PostgreSQL roles failed (deploy/compose/postgres-init.sh)"; }
    sleep 1
  done
  unset "${urls[@]}"
  log "PostgreSQL: $(grep -c '^postgres-init: role ' <<<"$out") services with a role of their own"
}
port_of() { case "$1" in svc-tasks) echo 18090 ;; svc-executor) echo 18091 ;; svc-notify) echo 18095 ;; svc-scheduler) echo 18096 ;; esac; }

# The stack's host ports must be ours (its container runs) or free.
check_host_ports() {
  local name port svc ours
  for name in "${HOST_PORTS[@]}"; do
    port="$(env_value "$name")"
    [[ "$port" =~ ^[0-9]+$ ]] || die "$name is missing or not a port in $ENV_FILE (see deploy/.env.example)"
    case "$name" in TASKFLOW_ENTRY_PORT) svc=nginx ;; TASKFLOW_KAFKA_HOST_PORT) svc=kafka ;; *) svc=registry ;; esac
    ours="$("$ENGINE" ps -q --filter "label=com.docker.compose.project=$PROJECT" --filter "label=com.docker.compose.service=$svc")"
    [[ -n "$ours" ]] && continue
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      die "port $port ($name in $ENV_FILE) is already taken on this machine: set another free port there"
    fi
  done
}

# Kafka and the registry as clients on this host reach them (the published ports; Kafka then
# sends a client on to the address it advertises for that listener).
check_from_host() {
  local kafka="127.0.0.1:$(env_value TASKFLOW_KAFKA_HOST_PORT)" registry deadline=$((SECONDS + 30))
  registry="http://127.0.0.1:$(env_value TASKFLOW_REGISTRY_HOST_PORT)/apis/ccompat/v7"
  until (exec 3<>"/dev/tcp/${kafka%:*}/${kafka##*:}") 2>/dev/null && curl -fs -o /dev/null --max-time 3 "$registry/subjects"; do
    ((SECONDS < deadline)) || die "Kafka ($kafka) or the registry ($registry) does not answer on the host"
    sleep 1
  done
}

build_images() {
  local svc revision
  revision="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  for svc in "${SERVICES[@]}"; do
    log "building taskflow/$svc:local (deploy/docker/Dockerfile, target $svc; one shared builder stage)"
    nice -n 10 "$ENGINE" build ${QUIET:+-q} $([[ "$ENGINE" == podman ]] && echo --format docker) \
      -f deploy/docker/Dockerfile --target "$svc" --build-arg "REVISION=$revision" \
      -t "taskflow/$svc:local" . >"$STATE/build-$svc.log" 2>&1 ||
      { tail -n 40 "$STATE/build-$svc.log" >&2; die "building $svc failed (full log: $STATE/build-$svc.log)"; }
  done
}

missing_images() {
  local svc
  for svc in "${SERVICES[@]}"; do "$ENGINE" image inspect "taskflow/$svc:local" >/dev/null 2>&1 || return 0; done
  return 1
}

# Recreate a running service whose image was rebuilt (compose keeps containers whose config is unchanged).
stale_services() {
  local svc c want
  for svc in "$@"; do
    want="$("$ENGINE" image inspect --format '{{.Id}}' "taskflow/$svc:local" 2>/dev/null)" || continue
    for c in $(containers_of "$svc"); do
      [[ "$("$ENGINE" inspect --format '{{.Image}}' "$c")" == *"${want#sha256:}"* ]] || { echo "$svc"; break; }
    done
  done
}

API_STATUS=""
api() { # METHOD PATH BEARER [BODY] -> body on stdout, status in $API_STATUS (call it outside $(…))
  local out; out="$(mktemp)"
  local args=(-sS -o "$out" -w '%{http_code}' --max-time 10 -X "$1" -H "Authorization: Bearer $3")
  [[ -n "${4:-}" ]] && args+=(-H 'Content-Type: application/json' --data "$4")
  API_STATUS="$(curl "${args[@]}" "$ENTRY$2" 2>/dev/null || true)"
  cat "$out"; rm -f "$out"
}
json_field() { python3 -c 'import json,sys; v=json.load(sys.stdin).get(sys.argv[1]); print(v if isinstance(v,str) else "")' "$1"; }

# svc-notify and svc-scheduler learn keys from the keys topic, a moment after svc-tasks issued
# one (longer while their consumer groups first form): the env file is written once every
# service behind the entry point honours the dev key, so a check started right after
# `compose-up` is not refused.
key_known_everywhere() {
  local path deadline=$((SECONDS + 90))
  for path in /v1/notifications /v1/schedules; do
    until api GET "$path" "$API_KEY" >/dev/null && [[ "$API_STATUS" == 200 ]]; do
      ((SECONDS < deadline)) || die "$ENTRY$path still refuses the dev tenant's key (HTTP $API_STATUS) 90 s after it was issued"
      sleep 0.5
    done
  done
}

# The dev tenant of this stack: kept in dev-tenant.json while svc-tasks still accepts its key.
dev_tenant() {
  local admin="$1" key="" body
  if [[ -f "$TENANT_FILE" ]]; then
    key="$(json_field api_key <"$TENANT_FILE" 2>/dev/null || true)"
    if [[ -n "$key" ]]; then
      api GET "/v1/tasks?limit=1" "$key" >/dev/null
      [[ "$API_STATUS" == 200 ]] && { API_KEY="$key"; return 0; }
    fi
  fi
  (umask 077 && : >"$TENANT_FILE.new")
  # Not in $(…): api sets API_STATUS in this shell.
  api POST /v1/admin/tenants "$admin" "{\"name\":\"compose-dev-$(date +%s)\"}" >"$TENANT_FILE.new"
  body="$(head -c 300 "$TENANT_FILE.new")"
  [[ "$API_STATUS" == 201 ]] || { rm -f "$TENANT_FILE.new"; die "creating the dev tenant answered HTTP $API_STATUS: $body"; }
  mv "$TENANT_FILE.new" "$TENANT_FILE"
  API_KEY="$(json_field api_key <"$TENANT_FILE")"
  [[ "$API_KEY" == tfk_* ]] || die "the tenant response has no api_key"
}

up() {
  local started=$SECONDS port svc stale scale=()
  prepare_env
  # A variable missing from the env file (`${VAR?…}` in compose.yaml): one line, before anything starts.
  if ! run config >"$STATE/config.log" 2>&1; then
    die "deploy/compose.yaml with $ENV_FILE: $(grep -iE 'required variable|missing|error' "$STATE/config.log" | tail -n1 | sed 's/^[A-Za-z]*Error: //')"
  fi
  check_host_ports
  port="$(env_value TASKFLOW_ENTRY_PORT)"
  ENTRY="http://127.0.0.1:$port"
  if [[ -n "${EXECUTORS:-}" ]]; then
    [[ "$EXECUTORS" =~ ^[1-9][0-9]*$ ]] || die "EXECUTORS must be a whole number ≥ 1, got '$EXECUTORS'"
    scale=(--scale "svc-executor=$EXECUTORS")
  fi
  if [[ -n "${TRACING:-}" && "${TRACING}" != 0 ]]; then
    export COMPOSE_PROFILES=tracing OTEL_EXPORTER_OTLP_ENDPOINT=http://jaeger:4318
  fi
  local images
  if [[ "$ENGINE" == podman ]]; then
    images="$(deploy/compose/images.sh podman)"
  else
    images="  (pulled by docker compose as needed)"
  fi
  if [[ "${BUILD:-1}" == 0 ]] && ! missing_images; then
    log "BUILD=0: starting the images built before"
  else
    build_images
  fi
  if [[ "$ENGINE" == docker ]]; then
    # PostgreSQL first: the services must not start before their roles exist.
    run up -d --no-build --wait --wait-timeout 120 postgres
    ensure_roles
    run up -d --no-build --remove-orphans --wait --wait-timeout 300 "${scale[@]}"
  else
    # podman-compose ignores `condition: service_healthy` before podman 4.6, so start in stages
    # and wait for each stage's health here.
    run up -d --no-deps postgres kafka >"$STATE/up.log" 2>&1 || { cat "$STATE/up.log" >&2; die "starting postgres and kafka failed"; }
    wait_until healthy 120 postgres healthy
    ensure_roles
    run up -d --no-deps registry >>"$STATE/up.log" 2>&1 || { cat "$STATE/up.log" >&2; die "starting the registry failed"; }
    wait_until healthy 180 kafka healthy
    wait_until healthy 180 registry healthy
    mapfile -t stale < <(stale_services "${SERVICES[@]}")
    if ((${#stale[@]})); then
      log "recreating ${stale[*]} (image rebuilt)"
      run up -d --no-deps --force-recreate "${stale[@]}" >>"$STATE/up.log" 2>&1 || { cat "$STATE/up.log" >&2; die "recreating ${stale[*]} failed"; }
    fi
    run up -d --no-deps "${scale[@]}" "${SERVICES[@]}" >>"$STATE/up.log" 2>&1 || { cat "$STATE/up.log" >&2; die "starting the services failed"; }
    if [[ -n "${COMPOSE_PROFILES:-}" ]]; then run up -d --no-deps jaeger >>"$STATE/up.log" 2>&1 || log "jaeger did not start (no image?)"; fi
    for svc in "${SERVICES[@]}"; do
      # shellcheck disable=SC2317 # called indirectly
      probe() { ready "$1" "$(port_of "$svc")"; }
      wait_until ready 180 "$svc" probe
    done
    run up -d --no-deps nginx >>"$STATE/up.log" 2>&1 || { cat "$STATE/up.log" >&2; die "starting nginx failed"; }
    wait_until healthy 60 nginx healthy
  fi
  local deadline=$((SECONDS + 60))
  until curl -fs -o /dev/null --max-time 3 "$ENTRY/health/ready" 2>/dev/null; do
    ((SECONDS < deadline)) || die "$ENTRY/health/ready does not answer 200 through the entry point"
    sleep 1
  done
  check_from_host
  dev_tenant "$(env_value TASKFLOW_ADMIN_TOKEN)"
  key_known_everywhere
  write_dev_env "$port"
  summary "$port" "$images" $((SECONDS - started))
}

write_dev_env() {
  local tmp="$DEV_ENV.tmp"
  (
    umask 077
    cat >"$tmp" <<ENV
# Generated by deploy/compose/run.sh on every \`make compose-up\`: the compose stack, through its
# one entry point, and its Kafka and registry on 127.0.0.1. Use: source $DEV_ENV
export TASKFLOW_API_URL=$ENTRY
export TASKFLOW_NOTIFY_URL=$ENTRY
export TASKFLOW_SCHEDULER_URL=$ENTRY
export TASKFLOW_EXECUTOR_URL=$ENTRY/executor
export TASKFLOW_API_KEY=$API_KEY
export TASKFLOW_ADMIN_TOKEN=$(env_value TASKFLOW_ADMIN_TOKEN)
export TASKFLOW_TASK_PARTITIONS=$(env_value TASKFLOW_TASK_PARTITIONS)
export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$(env_value TASKFLOW_KAFKA_HOST_PORT)
export SCHEMA_REGISTRY_URL=http://127.0.0.1:$(env_value TASKFLOW_REGISTRY_HOST_PORT)/apis/ccompat/v7
export TASKFLOW_TOPIC_PREFIX=$(env_value TASKFLOW_TOPIC_PREFIX)
export TASKFLOW_COMPOSE_ENGINE=$ENGINE
export TASKFLOW_COMPOSE_PROJECT=$PROJECT
ENV
  )
  mv "$tmp" "$DEV_ENV"
}

summary() {
  local port="$1" images="$2" secs="$3" svc n
  echo
  log "TaskFlow runs in containers ($ENGINE, project $PROJECT), up in ${secs}s; one entry point:"
  printf '  %-16s %s\n' "task API" "http://127.0.0.1:$port/v1/tasks   (Swagger UI /docs, OpenAPI /openapi.json)"
  printf '  %-16s %s\n' "dashboard" "http://127.0.0.1:$port/"
  printf '  %-16s %s\n' "streams" "http://127.0.0.1:$port/v1/stream, /v1/tasks/{id}/stream, ws://127.0.0.1:$port/v1/ws"
  printf '  %-16s %s\n' "schedules" "http://127.0.0.1:$port/v1/schedules"
  printf '  %-16s %s\n' "executor" "http://127.0.0.1:$port/executor/health/ready, /executor/v1/admin/… (one replica)"
  log "for clients on this host only (127.0.0.1):"
  printf '  %-16s %s\n' "Kafka" "127.0.0.1:$(env_value TASKFLOW_KAFKA_HOST_PORT)"
  printf '  %-16s %s\n' "registry" "http://127.0.0.1:$(env_value TASKFLOW_REGISTRY_HOST_PORT)/apis/ccompat/v7"
  log "containers (nothing else is published on the host):"
  for svc in postgres kafka registry "${SERVICES[@]}" nginx; do
    n="$(containers_of "$svc" | wc -l)"
    printf '  %-16s %s container(s), image %s\n' "$svc" "$n" \
      "$("$ENGINE" inspect --format '{{.ImageName}}' "$(containers_of "$svc" | head -n1)" 2>/dev/null || echo '?')"
  done
  log "images not ours:"
  printf '%s\n' "$images"
  log "logs: make compose-logs; stop: make compose-down (data volumes stay; VOLUMES=1 deletes them)"
  echo
  echo "  source $DEV_ENV   # TASKFLOW_API_URL, TASKFLOW_API_KEY, TASKFLOW_ADMIN_TOKEN, TASKFLOW_NOTIFY_URL, TASKFLOW_SCHEDULER_URL, TASKFLOW_EXECUTOR_URL, KAFKA_BOOTSTRAP_SERVERS, SCHEMA_REGISTRY_URL"
}

down() {
  # Also completes an env file written before the example gained variables: compose reads every
  # variable of compose.yaml even to stop a stack.
  prepare_env >/dev/null
  local args=(down --remove-orphans)
  if [[ -n "${VOLUMES:-}" && "${VOLUMES}" != 0 ]]; then args+=(-v); log "removing the data volumes too (VOLUMES=1)"; fi
  COMPOSE_PROFILES=tracing run "${args[@]}" >"$STATE/down.log" 2>&1 || { cat "$STATE/down.log" >&2; die "compose down failed"; }
  rm -f "$DEV_ENV"
  local left
  left="$("$ENGINE" ps -a -q --filter "label=com.docker.compose.project=$PROJECT" | wc -l)"
  ((left == 0)) || die "$left container(s) of project $PROJECT are still there"
  log "down: no container of project $PROJECT left$([[ -z "${VOLUMES:-}" || "${VOLUMES}" == 0 ]] && echo '; data volumes kept (VOLUMES=1 deletes them)')"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  logs)
    [[ -f "$ENV_FILE" ]] || die "$ENV_FILE is missing: run make compose-up first"
    shift
    COMPOSE_PROFILES=tracing run logs -f --tail=200 "$@"
    ;;
  tails)
    # The last lines of every container of the project (checks/compose-test.sh on a failure).
    for c in $("$ENGINE" ps -a --format '{{.Names}}' --filter "label=com.docker.compose.project=$PROJECT"); do
      echo "--- $c ($("$ENGINE" inspect --format '{{.State.Status}}' "$c"))"
      "$ENGINE" logs --tail "${TAIL:-15}" "$c" 2>&1 | cut -c1-300
    done
    ;;
  *) die "usage: deploy/compose/run.sh up|down|logs [service…]|tails" ;;
esac
