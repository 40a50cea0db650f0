#!/usr/bin/env bash
# `make compose-up` / `compose-down` / `compose-logs`: TaskFlow in Docker (deploy/compose.yaml).
#
#   up    [EXECUTORS=n] [TRACING=1]  build the four images, start everything, wait until healthy
#   down                             stop and remove the containers (volumes stay: `docker compose
#                                    -p taskflow down -v` deletes the data too)
#   logs  [service…]                 follow the logs
#
# The services' settings come from .taskflow/compose.env: a copy of deploy/.env.example made on
# the first `up` with a generated TASKFLOW_ADMIN_TOKEN; variables added to the example later are
# appended to it. Uses `docker compose` (v2) when present, else `docker-compose`.
set -euo pipefail
cd "$(dirname "$0")/../.."

ENV_FILE=.taskflow/compose.env
log() { printf '[compose] %s\n' "$*"; }
die() { printf '[compose] ERROR: %s\n' "$*" >&2; exit 1; }

if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null; then
  compose=(docker-compose)
else
  die "neither \`docker compose\` nor docker-compose is installed (https://docs.docker.com/compose/install/)"
fi

# .taskflow/compose.env: created once, then completed with any variable the example gained.
prepare_env() {
  mkdir -p .taskflow
  python3 - deploy/.env.example "$ENV_FILE" <<'PY'
import re, secrets, sys
example, target = sys.argv[1], sys.argv[2]
lines = open(example).read().splitlines()
try:
    have = open(target).read()
except FileNotFoundError:
    have = None
if have is None:
    out = [f"TASKFLOW_ADMIN_TOKEN={secrets.token_urlsafe(32)}" if l.startswith("TASKFLOW_ADMIN_TOKEN=") else l
           for l in lines]
    with open(target, "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"[compose] wrote {target} from {example} (admin token generated)")
else:
    known = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", have, re.M))
    new = [l for l in lines if re.match(r"^[A-Z][A-Z0-9_]*=", l) and l.split("=", 1)[0] not in known]
    if new:
        with open(target, "a") as f:
            f.write("\n# added from deploy/.env.example\n" + "\n".join(new) + "\n")
        print(f"[compose] added {len(new)} new variables to {target}: " + ", ".join(l.split('=')[0] for l in new))
PY
  chmod 600 "$ENV_FILE"
}

run() { "${compose[@]}" -p taskflow --env-file "$ENV_FILE" -f deploy/compose.yaml "$@"; }

case "${1:-}" in
  up)
    prepare_env
    args=(up -d --build --remove-orphans)
    if [[ -n "${EXECUTORS:-}" ]]; then
      [[ "$EXECUTORS" =~ ^[0-9]+$ ]] || die "EXECUTORS must be a whole number, got '$EXECUTORS'"
      args+=(--scale "svc-executor=$EXECUTORS")
    fi
    if [[ -n "${TRACING:-}" && "${TRACING}" != 0 ]]; then
      export COMPOSE_PROFILES=tracing OTEL_EXPORTER_OTLP_ENDPOINT=http://jaeger:4318
    fi
    # Compose v2 waits for the healthchecks itself; v1 has no --wait.
    if [[ "${compose[*]}" == "docker compose" ]]; then args+=(--wait --wait-timeout 300); fi
    run "${args[@]}"
    log "up: svc-tasks http://localhost:18090 (docs: /docs), dashboard http://localhost:18095, svc-scheduler http://localhost:18096${COMPOSE_PROFILES:+, Jaeger http://localhost:16686}"
    log "admin token: TASKFLOW_ADMIN_TOKEN in $ENV_FILE; status: docker compose -p taskflow ps"
    ;;
  down)
    [[ -f "$ENV_FILE" ]] || cp deploy/.env.example "$ENV_FILE"
    COMPOSE_PROFILES=tracing run down --remove-orphans
    ;;
  logs)
    [[ -f "$ENV_FILE" ]] || die "$ENV_FILE is missing: run make compose-up first"
    shift
    COMPOSE_PROFILES=tracing run logs -f --tail=200 "$@"
    ;;
  *) die "usage: deploy/compose/run.sh up|down|logs [service…]" ;;
esac
