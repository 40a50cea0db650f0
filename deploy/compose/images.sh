#!/usr/bin/env bash
# The images deploy/compose.yaml names that are not ours: pulled when the engine can pull them,
# otherwise built here under the same names from what this machine reaches (Debian's mirror,
# rustup, the jars `make up` downloaded into ~/.cache/taskflow). Run by deploy/compose/run.sh.
#
#   images.sh ENGINE     ensure every image; prints one line per image: pulled / built / present
#
# Each stand-in is described in its file under deploy/compose/images/. Built images carry the
# label taskflow.local-build, so the summary can tell them from pulled ones later.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=deploy/lib.sh
source deploy/lib.sh

engine="$1"
IMAGES_DIR=deploy/compose/images
STAGE="$CACHE_DIR/compose-images"
nice=(nice -n 10)
log() { printf '[compose] %s\n' "$*"; }

# Names as the compose file and Dockerfile spell them.
DEBIAN=debian:bookworm-slim
RUST=rust:1.95-slim-bookworm
POSTGRES=postgres:15
KAFKA="apache/kafka:$KAFKA_VERSION"
REGISTRY="apicurio/apicurio-registry:$REGISTRY_VERSION"
NGINX=nginx:stable-bookworm
JRE=localhost/taskflow-jre:local

# docker.io/library/NAME or docker.io/OWNER/NAME: the name short names resolve to.
qualified() { if [[ "$1" == */* ]]; then printf 'docker.io/%s' "$1"; else printf 'docker.io/library/%s' "$1"; fi; }
exists() { "$engine" image inspect "$1" >/dev/null 2>&1; }
origin() {
  local how
  how="$("$engine" image inspect --format '{{ index .Config.Labels "taskflow.local-build" }}' "$1" 2>/dev/null || true)"
  if [[ -n "$how" && "$how" != "<no value>" ]]; then printf 'built here (%s)' "$how"; else printf 'pulled'; fi
}
# One attempt, bounded: where registries are unreachable a pull fails (or hangs) instead of working.
try_pull() { timeout 60 "$engine" pull -q "$1" >/dev/null 2>&1; }

build() { # NAME CONTAINERFILE CONTEXT [build args...]
  local name="$1" file="$2" ctx="$3"
  shift 3
  log "building $name locally from $file (no registry reachable)"
  "${nice[@]}" "$engine" build -q --format docker -f "$file" -t "$name" -t "$(qualified "$name")" \
    --label "taskflow.local-build=$(basename "$file")" --label "taskflow.local-build-inputs=$INPUTS" \
    "$@" "$ctx" >/dev/null
}
# A digest of the files a stand-in is made from: a stand-in built from other files is built again.
inputs_of() { cat "$@" | sha256sum | cut -c1-16; }
label_of() {
  local v
  v="$("$engine" image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true)"
  [[ "$v" == "<no value>" ]] && v=""
  printf '%s' "$v"
}

# A build context under the cache: hard links where the file system allows, copies otherwise.
stage() { # DIR SOURCE...  (files or directories copied into DIR)
  local dir="$1"
  shift
  rm -rf "$dir" && mkdir -p "$dir"
  cp -al "$@" "$dir/" 2>/dev/null || cp -a "$@" "$dir/"
}

ensure() { # NAME how-to-build-function INPUT-FILES...
  local name="$1" fn="$2"
  shift 2
  local INPUTS built_from
  INPUTS="$(inputs_of "$@")"
  built_from="$(label_of "$name" taskflow.local-build-inputs)"
  if exists "$name" && [[ -n "$built_from" && "$built_from" != "$INPUTS" ]]; then
    log "$name: its files under $IMAGES_DIR changed since it was built here"
    "$fn" "$name"
    printf '  %-34s %s\n' "$name" "built here now ($(origin "$name" | sed 's/built here (\(.*\))/\1/'))" >>"$REPORT"
  elif exists "$name"; then
    printf '  %-34s %s\n' "$name" "present, $(origin "$name")" >>"$REPORT"
  elif try_pull "$name"; then
    printf '  %-34s %s\n' "$name" "pulled now" >>"$REPORT"
  else
    "$fn" "$name"
    printf '  %-34s %s\n' "$name" "built here now ($(origin "$name" | sed 's/built here (\(.*\))/\1/'))" >>"$REPORT"
  fi
}

build_debian() { INPUTS="$INPUTS" "${nice[@]}" "$IMAGES_DIR/debian.sh" "$engine" "$1" "$(qualified "$1")"; }
build_rust() { build "$1" "$IMAGES_DIR/rust.Containerfile" "$IMAGES_DIR"; }
build_postgres() {
  stage "$STAGE/postgres" "$IMAGES_DIR/postgres-entrypoint.sh"
  build "$1" "$IMAGES_DIR/postgres.Containerfile" "$STAGE/postgres"
}
build_nginx() {
  stage "$STAGE/nginx" "$IMAGES_DIR/nginx-entrypoint.sh"
  build "$1" "$IMAGES_DIR/nginx.Containerfile" "$STAGE/nginx"
}
build_jre() {
  local java home
  java="$(find_java 21)" || die "no Java 21+ for the Kafka and registry stand-ins (make up installs one)"
  home="$(dirname "$(dirname "$(readlink -f "$java")")")"
  rm -rf "$STAGE/jre" && mkdir -p "$STAGE/jre"
  if [[ -x "$home/bin/jlink" && -d "$home/jmods" ]]; then
    "$home/bin/jlink" --module-path "$home/jmods" --add-modules ALL-MODULE-PATH --strip-debug --no-man-pages --no-header-files \
      --output "$STAGE/jre/java" >/dev/null
  else
    cp -a "$home" "$STAGE/jre/java"
  fi
  build "$1" "$IMAGES_DIR/jre.Containerfile" "$STAGE/jre"
}
build_kafka() {
  local home
  home="$(kafka_home)"
  [[ -f "$home/.complete" ]] || die "Kafka's jars are not in $home yet: \`make up\` downloads them once per machine"
  ensure "$JRE" build_jre "$IMAGES_DIR/jre.Containerfile"
  stage "$STAGE/kafka" "$home/libs" deploy/kafka/log4j2.properties deploy/kafka/log4j2-tools.properties \
    "$IMAGES_DIR/kafka-run.sh" "$IMAGES_DIR/kafka-tool.sh"
  build "$1" "$IMAGES_DIR/kafka.Containerfile" "$STAGE/kafka" --build-arg "JRE_IMAGE=$JRE"
}
build_registry() {
  [[ -f "$REGISTRY_DIST/quarkus-run.jar" ]] ||
    die "Apicurio Registry is not in $REGISTRY_DIST yet: \`make up\` downloads it once per machine"
  ensure "$JRE" build_jre "$IMAGES_DIR/jre.Containerfile"
  rm -rf "$STAGE/registry" && mkdir -p "$STAGE/registry"
  cp -al "$REGISTRY_DIST" "$STAGE/registry/registry" 2>/dev/null || cp -a "$REGISTRY_DIST" "$STAGE/registry/registry"
  build "$1" "$IMAGES_DIR/apicurio.Containerfile" "$STAGE/registry" --build-arg "JRE_IMAGE=$JRE"
}

REPORT="$(mktemp)"
trap 'rm -f "$REPORT"' EXIT
I="$IMAGES_DIR"
ensure "$DEBIAN" build_debian "$I/debian.sh"
ensure "$RUST" build_rust "$I/rust.Containerfile"
ensure "$POSTGRES" build_postgres "$I/postgres.Containerfile" "$I/postgres-entrypoint.sh"
ensure "$KAFKA" build_kafka "$I/kafka.Containerfile" "$I/kafka-run.sh" "$I/kafka-tool.sh" deploy/kafka/log4j2.properties deploy/kafka/log4j2-tools.properties
ensure "$REGISTRY" build_registry "$I/apicurio.Containerfile"
ensure "$NGINX" build_nginx "$I/nginx.Containerfile" "$I/nginx-entrypoint.sh"
grep -v taskflow-jre "$REPORT"
