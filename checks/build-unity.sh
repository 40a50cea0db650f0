#!/usr/bin/env bash
# `make lint`: `make up`'s build of the four services and `make test`'s build of the workspace
# must resolve every shared dependency to the same features, or cargo compiles those crates (and
# everything above them) twice: a newcomer's first `make test` would rebuild ~250 crates that
# `make up` just built. Compares `cargo tree` of both builds; the fix for a drift is a feature in
# workspace-hack/Cargo.toml (or in [workspace.dependencies]). Our own crates are compared too:
# a feature on one of them (test helpers behind a `test-support` feature were one) would rebuild
# it and every crate above it.
set -euo pipefail
cd "$(dirname "$0")/.."
services=(); for s in svc-tasks svc-executor svc-notify svc-scheduler; do services+=(-p "$s"); done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tree() { # OUT cargo-tree-args...: each package with its features, one line each
  local out="$1"
  shift
  cargo tree --quiet --prefix none -f '{p} {f}' "$@" >"$work/raw"
  sed 's/ (\*)$//' "$work/raw" | sort -u >"$out"
  [[ -s "$out" ]] || { echo "build-unity: cargo tree $* printed nothing" >&2; exit 1; }
}
tree "$work/up" "${services[@]}" -e no-dev
tree "$work/test" --workspace
drift="$(comm -23 "$work/up" "$work/test" || true)"
if [[ -n "$drift" ]]; then
  printf 'build-unity: these dependencies get other features in make test than in make up (add them to workspace-hack/Cargo.toml):\n%s\n' "$drift" >&2
  exit 1
fi
echo "build-unity: make up's and make test's builds share every dependency"
