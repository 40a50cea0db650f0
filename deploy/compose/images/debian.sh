#!/usr/bin/env bash
# Stand-in for the official debian:bookworm-slim image: a minbase debootstrap of Debian bookworm
# from this machine's own Debian mirror, imported as an image. Usage: debian.sh ENGINE NAME...
set -euo pipefail
engine="$1"; shift
command -v debootstrap >/dev/null || { echo "debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
mirror="$(grep -hoE '^(URIs:|deb) +https?://[^ ]+' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null |
  awk '{print $2}' | grep -v security | head -n1 || true)" # grep fails on a file that is not there (sources.list on deb822-only machines)
mirror="${mirror:-http://deb.debian.org/debian}"
dir="$(mktemp -d /var/tmp/taskflow-debian.XXXXXX)"
trap 'rm -rf "$dir"' EXIT
debootstrap --variant=minbase bookworm "$dir/root" "$mirror" >"$dir/log" 2>&1 ||
  { tail -n 20 "$dir/log" >&2; exit 1; }
# As small as the official slim image is: no package cache, no lists.
rm -rf "$dir"/root/var/cache/apt/archives/*.deb "$dir"/root/var/lib/apt/lists/* "$dir"/root/var/log/*.log
# This machine's own certificate authorities (/usr/local/share/ca-certificates: here, the one of
# the HTTPS egress proxy), so that TLS from inside builds (rustup, crates.io) verifies once an
# image installs ca-certificates. Only this local stand-in carries them.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  mkdir -p "$dir/root/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$dir/root/usr/local/share/ca-certificates/"
fi
first="$1"
tar -C "$dir/root" -c . | "$engine" import \
  --change 'CMD ["bash"]' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'LABEL taskflow.local-build=debootstrap' --change "LABEL taskflow.local-build-inputs=${INPUTS:-}" \
  - "$first" >/dev/null
shift
for name in "$@"; do "$engine" tag "$first" "$name"; done
