# shellcheck shell=bash
# `make up` hook (sourced by deploy/up.sh after PostgreSQL, Kafka and the registry are up and
# .taskflow/dev.env is written; deploy/lib.sh is loaded): build and run svc-tasks, make sure a dev
# tenant exists, and add TASKFLOW_API_URL, TASKFLOW_API_KEY and TASKFLOW_ADMIN_TOKEN to dev.env.
#
#   binary   $CARGO_TARGET_DIR/<profile>/svc-tasks (the one cargo build of the four services: services_build_start in deploy/lib.sh)
#   process  run/svc-tasks.pid, logs/svc-tasks.log (JSON lines)
#   secrets  .taskflow/secrets/admin-token      admin token, generated once per clone (mode 600);
#                                               the other services' hooks give it to them too
#            .taskflow/secrets/dev-tenant.json  the dev tenant and its API key (mode 600)
#
# Idempotent: a running svc-tasks of ours is left alone unless its binary was rebuilt since it
# started (or the admin token changed): then it is restarted, so `make up` after a code change
# runs the new code. The stored dev key is checked on every run and replaced if the service no
# longer accepts it (database recreated, key revoked). deploy/down.d/50-svc-tasks.sh stops it.
#
# Everything here is a function prefixed svc_tasks_ (this file runs inside up.sh's shell).

SVC_TASKS_PORT=18090
SVC_TASKS_URL="http://$HOST:$SVC_TASKS_PORT"
SVC_TASKS_LOG="$LOG_DIR/svc-tasks.log"
SVC_TASKS_BIN="$(service_bin svc-tasks)"
SVC_TASKS_SECRETS="$STATE_DIR/secrets"
SVC_TASKS_TOKEN_FILE="$SVC_TASKS_SECRETS/admin-token"
SVC_TASKS_TENANT_FILE="$SVC_TASKS_SECRETS/dev-tenant.json"
SVC_TASKS_ADMIN_TOKEN=""
SVC_TASKS_API_KEY=""


# The admin token: read from secrets/admin-token, or generated there once.
svc_tasks_admin_token() {
  mkdir -p "$SVC_TASKS_SECRETS"
  chmod 700 "$SVC_TASKS_SECRETS"
  local token=""
  if [[ -f "$SVC_TASKS_TOKEN_FILE" ]]; then
    token="$(<"$SVC_TASKS_TOKEN_FILE")"
    token="${token//[[:space:]]/}"
    if ((${#token} < 16)); then
      warn "$(rel "$SVC_TASKS_TOKEN_FILE") holds no usable token (needs 16+ characters): generating a new one"
      token=""
    fi
  fi
  if [[ -z "$token" ]]; then
    token="$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')" || die "svc-tasks: could not generate an admin token with python3"
    (umask 077 && printf '%s\n' "$token" >"$SVC_TASKS_TOKEN_FILE.tmp")
    mv -f "$SVC_TASKS_TOKEN_FILE.tmp" "$SVC_TASKS_TOKEN_FILE"
    info "generated the svc-tasks admin token in $(rel "$SVC_TASKS_TOKEN_FILE")"
  fi
  chmod 600 "$SVC_TASKS_TOKEN_FILE"
  SVC_TASKS_ADMIN_TOKEN="$token"
}

# Its environment, one NAME=value a line. The admin token is one of them: service_ensure exports
# the settings (they never reach a command line), and a changed token restarts the service.
svc_tasks_settings() {
  (
    # shellcheck source=/dev/null
    source "$DEV_ENV"
    printf '%s\n' \
      "DATABASE_URL_TASKS=$DATABASE_URL_TASKS" \
      "KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS" \
      "SCHEMA_REGISTRY_URL=$SCHEMA_REGISTRY_URL" \
      "TASKFLOW_TASK_PARTITIONS=$TASKFLOW_TASK_PARTITIONS" \
      "TASKFLOW_ADMIN_TOKEN=$SVC_TASKS_ADMIN_TOKEN" \
      "RUST_LOG=info" \
      "TASKFLOW_TASKS_BIND=$HOST:$SVC_TASKS_PORT" \
      "TASKFLOW_CORS_ORIGINS=http://$HOST:18095,http://localhost:18095"
    # The dashboard (svc-notify, deploy/up.d/70-svc-notify.sh) calls this API from the browser
    # (TASKFLOW_CORS_ORIGINS above).
    otel_settings
  )
}

# svc_tasks_http METHOD PATH BEARER OUT [JSON]: prints the HTTP status (000: no answer), body to
# OUT. The bearer goes through stdin (-H @-), not argv, so it does not show up in `ps`.
svc_tasks_http() {
  local method="$1" path="$2" bearer="$3" out="$4" data="${5:-}"
  local args=(-sS -o "$out" -w '%{http_code}' --max-time 10 -X "$method" -H @-)
  if [[ -n "$data" ]]; then args+=(-H 'Content-Type: application/json' --data "$data"); fi
  curl "${args[@]}" "$SVC_TASKS_URL$path" <<<"Authorization: Bearer $bearer" 2>/dev/null || true
}

# svc_tasks_json FIELD <file: a top-level string field of a JSON document ("" if absent).
svc_tasks_json() {
  python3 -c 'import json, sys; v = json.load(sys.stdin).get(sys.argv[1]); print(v if isinstance(v, str) else "")' "$1"
}

# POST /v1/admin/tenants {"name": NAME} into OUT; prints the HTTP status.
svc_tasks_create_tenant() {
  local name="$1" out="$2"
  svc_tasks_http POST /v1/admin/tenants "$SVC_TASKS_ADMIN_TOKEN" "$out" "{\"name\":\"$name\"}"
}

# Make sure secrets/dev-tenant.json holds a key svc-tasks accepts; sets SVC_TASKS_API_KEY.
svc_tasks_dev_tenant() {
  local tmp code key="" tenant_id="" name problem
  tmp="$(mktemp "$SVC_TASKS_SECRETS/.response.XXXXXX")" # mode 600, like the secrets it may hold

  if [[ -s "$SVC_TASKS_TENANT_FILE" ]]; then
    key="$(svc_tasks_json api_key <"$SVC_TASKS_TENANT_FILE" 2>/dev/null)" || key=""
    tenant_id="$(svc_tasks_json tenant_id <"$SVC_TASKS_TENANT_FILE" 2>/dev/null)" || tenant_id=""
    if [[ -z "$key" ]]; then
      warn "$(rel "$SVC_TASKS_TENANT_FILE") has no api_key: creating the dev tenant again"
    else
      code="$(svc_tasks_http GET '/v1/tasks?limit=1' "$key" "$tmp")"
      case "$code" in
        200)
          chmod 600 "$SVC_TASKS_TENANT_FILE"
          rm -f "$tmp"
          SVC_TASKS_API_KEY="$key"
          return 0
          ;;
        401)
          # Key revoked, or the database was recreated. If the tenant still exists, issue it a
          # new key; otherwise create the tenant again below.
          code="000"
          if [[ "$tenant_id" =~ ^[0-9a-fA-F-]{36}$ ]]; then
            code="$(svc_tasks_http GET "/v1/admin/tenants/$tenant_id" "$SVC_TASKS_ADMIN_TOKEN" "$tmp")"
          fi
          if [[ "$code" == 200 ]]; then
            code="$(svc_tasks_http POST "/v1/admin/tenants/$tenant_id/keys" "$SVC_TASKS_ADMIN_TOKEN" "$tmp")"
            [[ "$code" == 201 ]] || die_with_log svc-tasks "POST /v1/admin/tenants/$tenant_id/keys answered HTTP $code: $(head -c 300 "$tmp")" "$SVC_TASKS_LOG"
            python3 - "$SVC_TASKS_TENANT_FILE" "$tmp" <<'PY' || die "svc-tasks: could not update $SVC_TASKS_TENANT_FILE"
import json, sys
tenant_file, issued_file = sys.argv[1], sys.argv[2]
with open(tenant_file) as f:
    tenant = json.load(f)
with open(issued_file) as f:
    issued = json.load(f)
tenant.update(api_key=issued["api_key"], key_id=issued["key_id"])
with open(issued_file, "w") as f:
    json.dump(tenant, f, indent=2)
    f.write("\n")
PY
            info "the stored dev API key is no longer accepted (revoked?): issued a new one for tenant $tenant_id"
            svc_tasks_save_tenant "$tmp"
            return 0
          fi
          info "the stored dev tenant is unknown to svc-tasks (database recreated?): creating it again"
          ;;
        *)
          rm -f "$tmp"
          die_with_log svc-tasks "GET /v1/tasks with the stored dev API key answered HTTP $code" "$SVC_TASKS_LOG"
          ;;
      esac
    fi
  fi

  name=dev
  code="$(svc_tasks_create_tenant "$name" "$tmp")"
  if [[ "$code" == 409 ]]; then
    problem="$(svc_tasks_json type <"$tmp" 2>/dev/null)" || problem=""
    if [[ "$problem" == urn:taskflow:problem:tenant-name-taken ]]; then
      # The database has a "dev" tenant whose key we no longer have (secrets deleted, database
      # kept); keys cannot be read back and the tenant's id is unknown here, so make a new one.
      name="dev-$(python3 -c 'import secrets; print(secrets.token_hex(3))')"
      warn "a tenant named \"dev\" already exists but its key is not in $(rel "$SVC_TASKS_TENANT_FILE"): creating tenant \"$name\" instead"
      code="$(svc_tasks_create_tenant "$name" "$tmp")"
    fi
  fi
  if [[ "$code" != 201 ]]; then
    local body
    body="$(head -c 300 "$tmp" 2>/dev/null)"
    rm -f "$tmp"
    die_with_log svc-tasks "POST /v1/admin/tenants {\"name\":\"$name\"} answered HTTP $code: $body" "$SVC_TASKS_LOG"
  fi
  info "created the dev tenant \"$name\" (key in $(rel "$SVC_TASKS_TENANT_FILE"))"
  svc_tasks_save_tenant "$tmp"
}

# Move a tenant document (with api_key) into place and check that the key is accepted.
svc_tasks_save_tenant() {
  local doc="$1" key code
  key="$(svc_tasks_json api_key <"$doc" 2>/dev/null)" || key=""
  [[ "$key" == tfk_* ]] || { rm -f "$doc"; die "svc-tasks: the tenant response has no api_key"; }
  chmod 600 "$doc"
  mv -f "$doc" "$SVC_TASKS_TENANT_FILE"
  local check
  check="$(mktemp "$SVC_TASKS_SECRETS/.response.XXXXXX")"
  code="$(svc_tasks_http GET '/v1/tasks?limit=1' "$key" "$check")"
  rm -f "$check"
  [[ "$code" == 200 ]] || die_with_log svc-tasks "GET /v1/tasks with the new dev API key answered HTTP $code" "$SVC_TASKS_LOG"
  SVC_TASKS_API_KEY="$key"
}

svc_tasks_up() {
  # Fail before a long build if someone else holds the port.
  if ! our_pid svc-tasks >/dev/null; then require_port_free svc-tasks "$SVC_TASKS_PORT"; fi
  services_build_wait
  svc_tasks_admin_token
  service_ensure svc-tasks "$SVC_TASKS_PORT" "$SVC_TASKS_BIN" 10 svc_tasks_settings
  service_wait svc-tasks "$SVC_TASKS_PORT"
  svc_tasks_dev_tenant
  devenv_export TASKFLOW_API_URL "$SVC_TASKS_URL"
  devenv_export TASKFLOW_API_KEY "$SVC_TASKS_API_KEY"
  devenv_export TASKFLOW_ADMIN_TOKEN "$SVC_TASKS_ADMIN_TOKEN"
  summary_add svc-tasks "$SVC_TASKS_URL (docs: /docs)" "$SVC_TASKS_LOG"
}

svc_tasks_up
