#!/usr/bin/env bash
# `make test` (and `make helm-check`): the Helm chart deploy/helm/taskflow, checked offline.
#   1. helm lint --strict, with each values file under the chart's ci/
#   2. helm template with each of them; every rendered manifest validated against the
#      Kubernetes 1.30 and 1.37 schemas by kubernetes-validate (it ships them: no cluster, no network)
#   3. checks/helm_check.py: the values that matter, as rendered (replicas, probes, secrets, drain
#      time, opt-in PDBs/autoscaling/Strimzi topics, env = what compose.yaml gives each service)
# Tools, once per machine under ~/.cache/taskflow: helm from the Go module proxy
# (helm.sh/helm/v4/cmd/helm, HELM_VERSION) and kubernetes-validate from PyPI in a venv.
# Warm: ~10 s, no network.
set -euo pipefail
cd "$(dirname "$0")/.."

HELM_VERSION=v4.3.2
KUBERNETES_VALIDATE_VERSION=1.37.0
KUBE_VERSIONS=(1.30.0 1.37.0)
CHART=deploy/helm/taskflow
cache="${TASKFLOW_CACHE:-$HOME/.cache/taskflow}"
helm="$cache/helm-$HELM_VERSION/bin/helm"
venv="$cache/kubernetes-validate-$KUBERNETES_VALIDATE_VERSION-venv"
log() { printf '[helm-check] %s\n' "$*"; }
die() { printf '[helm-check] ERROR: %s\n' "$*" >&2; exit 1; }
start=$SECONDS

if ! "$helm" version --short >/dev/null 2>&1; then
  command -v go >/dev/null || die "helm is missing and go is not installed to build it"
  log "installing helm $HELM_VERSION from the Go module proxy into $(dirname "$helm") (once per machine, a few minutes)"
  mkdir -p "$(dirname "$helm")"
  (cd /tmp && GOBIN="$(dirname "$helm")" GOFLAGS=-mod=mod nice -n 10 go install "helm.sh/helm/v4/cmd/helm@$HELM_VERSION") ||
    die "go install helm.sh/helm/v4/cmd/helm@$HELM_VERSION failed"
fi
if ! "$venv/bin/kubernetes-validate" --version 2>/dev/null | grep -q "$KUBERNETES_VALIDATE_VERSION"; then
  log "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION from PyPI into $venv (once per machine)"
  python3 -m venv "$venv" && "$venv/bin/pip" install --quiet "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" pyyaml ||
    die "installing kubernetes-validate failed"
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# Helm keeps no state of ours: its caches and config go to the temporary directory.
export HELM_CACHE_HOME="$tmp/helm-cache" HELM_CONFIG_HOME="$tmp/helm-config" HELM_DATA_HOME="$tmp/helm-data"

shopt -s nullglob
values=("$CHART"/ci/*-values.yaml)
((${#values[@]})) || die "no values files under $CHART/ci/"
for f in "${values[@]}"; do
  name="$(basename "$f" .yaml)"
  "$helm" lint --strict "$CHART" -f "$f" >"$tmp/lint-$name.log" 2>&1 ||
    { cat "$tmp/lint-$name.log" >&2; die "helm lint --strict with $f failed"; }
  "$helm" template taskflow "$CHART" -f "$f" --namespace taskflow >"$tmp/$name.yaml" 2>"$tmp/template-$name.log" ||
    { cat "$tmp/template-$name.log" >&2; die "helm template with $f failed"; }
  # kubernetes-validate knows the built-in kinds; Strimzi's KafkaTopic (a CRD) is checked by
  # helm_check.py instead.
  "$venv/bin/python" - "$tmp/$name.yaml" "$tmp/$name" <<'PY'
import sys, yaml, os
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
os.makedirs(sys.argv[2], exist_ok=True)
for i, d in enumerate(docs):
    if d.get("apiVersion", "").startswith("kafka.strimzi.io/"):
        continue
    with open(os.path.join(sys.argv[2], f"{i:02d}-{d['kind']}.yaml"), "w") as out:
        yaml.safe_dump(d, out)
PY
  for k in "${KUBE_VERSIONS[@]}"; do
    "$venv/bin/kubernetes-validate" --strict --quiet -k "$k" "$tmp/$name"/*.yaml >"$tmp/validate.log" 2>&1 ||
      { cat "$tmp/validate.log" >&2; die "$f: rendered manifests are not valid Kubernetes $k"; }
  done
  log "$f: lint --strict, template ($(ls "$tmp/$name" | wc -l) manifests + $(grep -c '^kind: KafkaTopic' "$tmp/$name.yaml" || true) KafkaTopics), valid for Kubernetes ${KUBE_VERSIONS[*]}"
done
HELM="$helm" "$venv/bin/python" checks/helm_check.py "$CHART"
log "ok ($((SECONDS - start)) s)"
