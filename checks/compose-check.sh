#!/usr/bin/env bash
# `make test`: check the Docker deployment (deploy/compose.yaml, deploy/docker/Dockerfile,
# deploy/.env.example) as far as a machine without a Docker engine can. Runs no container, binds
# no port, touches no running service; ~2 s. What each check verifies: checks/compose_check.py.
#
#   checks/compose-check.sh            env, compose, dockerfile and build checks
#   checks/compose-check.sh --podman   also `podman build` a runtime image FROM scratch holding the
#                                      release binaries `make up` built (not in `make test`; skipped
#                                      with a message when podman or the binaries are missing)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[compose-check] %s\n' "$*"; }
start=$(date +%s.%N)

command -v docker-compose >/dev/null ||
  { log "ERROR: docker-compose is missing (Debian package docker-compose; make tools installs it)" >&2; exit 1; }
command -v python3 >/dev/null || { log "ERROR: python3 is missing" >&2; exit 1; }

# A clean environment: docker-compose lets the caller's variables win over the env file, so a
# shell that sourced .taskflow/dev.env would otherwise check the native values, not the file's.
if ! env -i PATH="$PATH" HOME="$HOME" ${CARGO_TARGET_DIR:+CARGO_TARGET_DIR="$CARGO_TARGET_DIR"} python3 checks/compose_check.py; then
  log "FAILED (see FAIL lines above)"
  exit 1
fi

# Optional: the runtime image's contents, built by podman without pulling a base image. The
# rootfs holds the binary, the shared libraries ldd lists, CA certificates and a passwd entry
# for the non-root user; the image is inspected, never run (containers cannot start here).
podman_image() {
  local target="${CARGO_TARGET_DIR:-$HOME/.cache/taskflow/target}/release" svc tmp
  command -v podman >/dev/null || { log "podman image build: skipped (podman is not installed)"; return 0; }
  for svc in svc-tasks svc-executor svc-notify svc-scheduler; do
    [[ -x "$target/$svc" ]] || { log "podman image build: skipped ($target/$svc not built; make up builds it)"; return 0; }
  done
  tmp="$(mktemp -d)"
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" RETURN
  for svc in svc-tasks svc-executor svc-notify svc-scheduler; do
    rm -rf "$tmp/root" && mkdir -p "$tmp/root/usr/local/bin" "$tmp/root/etc/ssl/certs" "$tmp/root/tmp"
    cp "$target/$svc" "$tmp/root/usr/local/bin/service"
    ldd "$target/$svc" | grep -o '/[^ ]*' | while read -r lib; do
      mkdir -p "$tmp/root$(dirname "$lib")" && cp -L "$lib" "$tmp/root$lib"
    done
    cp /etc/ssl/certs/ca-certificates.crt "$tmp/root/etc/ssl/certs/"
    printf 'taskflow:x:10001:10001::/nonexistent:/usr/sbin/nologin\n' >"$tmp/root/etc/passwd"
    cat >"$tmp/Containerfile" <<CF
FROM scratch
COPY root/ /
LABEL org.opencontainers.image.title="$svc"
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/service"]
CF
    podman build -q -t "localhost/taskflow-$svc:scratch-check" -f "$tmp/Containerfile" "$tmp" >/dev/null
    log "podman image build: localhost/taskflow-$svc:scratch-check, $(podman image inspect --format '{{.Size}}' "localhost/taskflow-$svc:scratch-check") bytes, user $(podman image inspect --format '{{.Config.User}}' "localhost/taskflow-$svc:scratch-check") (built, not run)"
  done
}

images="no image built"
if [[ "${1:-}" == --podman ]]; then
  podman_image
  images="podman images FROM scratch built, not run"
fi
log "ok ($(python3 -c "import time; print(f'{time.time() - $start:.1f}')") s; $images; no container was run)"
