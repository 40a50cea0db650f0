#!/bin/bash
# The official nginx image's entrypoint, the parts deploy/compose.yaml uses (see nginx.Containerfile).
set -euo pipefail
if [[ "${NGINX_ENTRYPOINT_LOCAL_RESOLVERS:-}" ]]; then
  NGINX_LOCAL_RESOLVERS="$(awk '/^nameserver/ { a = a (a ? " " : "") ($2 ~ /:/ ? "[" $2 "]" : $2) } END { print a }' /etc/resolv.conf)"
  export NGINX_LOCAL_RESOLVERS
fi
# /docker-entrypoint.d/*.envsh are sourced (the official image sources the executable ones).
for f in /docker-entrypoint.d/*.envsh; do
  [[ -e "$f" ]] || continue
  echo "docker-entrypoint: sourcing $f"
  # shellcheck disable=SC1090
  source "$f"
done
vars="$(compgen -e | sed 's/^/$/' | tr '\n' ' ')"
for t in /etc/nginx/templates/*.template; do
  [[ -e "$t" ]] || continue
  out="/etc/nginx/conf.d/$(basename "${t%.template}")"
  envsubst "$vars" <"$t" >"$out"
  echo "docker-entrypoint: rendered $t to $out"
done
exec "$@"
