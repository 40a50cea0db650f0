#!/usr/bin/env python3
"""Unit test of the Helm chart deploy/helm/taskflow as rendered (run by checks/helm-check.sh).

Renders the chart with `helm template` (HELM: the binary) and checks the values that matter:
replicas, probes, secrets (each service's database URL and the one admin token, which every
service gets), the executor's drain time, opt-in PDBs / autoscaling / Strimzi topics,
TASKFLOW_CREATE_TOPICS false exactly when Strimzi topics are on or kafka.createTopics is false,
and that each service gets exactly the variables deploy/compose.yaml gives it (which
checks/compose_check.py holds to what the code reads). Also that bad values are refused.
Usage: helm_check.py CHART_DIR. Exit 1 on a failure.
"""

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CHART = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "deploy" / "helm" / "taskflow"
HELM = os.environ.get("HELM", "helm")
SERVICES = ["tasks", "executor", "notify", "scheduler"]


def streams() -> tuple[list[str], set[str]]:
    """The topics the services create, and the compacted ones, as schemas/src/topics.rs says
    (`Stream::base_name`, `Stream::is_compacted`): the chart's list must not drift from it."""
    import re
    src = (ROOT / "schemas/src/topics.rs").read_text()
    names = dict(re.findall(r'Stream::(\w+) => "([^"]+)"', src))
    compacted_block = re.search(r"fn is_compacted\(self\) -> bool \{(.*?)\n    \}", src, re.S).group(1)
    compacted = {names[v] for v in re.findall(r"Stream::(\w+)", compacted_block)}
    if not names or not compacted:
        sys.exit("helm-check: cannot read the streams from schemas/src/topics.rs")
    return list(names.values()), compacted


STREAMS, COMPACTED = streams()
failures: list[str] = []


def fail(msg: str) -> None:
    failures.append(msg)


def render(values_file: Path | None = None, sets: list[str] | None = None) -> subprocess.CompletedProcess:
    cmd = [HELM, "template", "t", str(CHART), "--namespace", "ns"]
    if values_file:
        cmd += ["-f", str(values_file)]
    for s in sets or []:
        cmd += ["--set", s]
    return subprocess.run(cmd, capture_output=True, text=True)


def docs(values_file: Path, sets: list[str] | None = None) -> list[dict]:
    res = render(values_file, sets)
    if res.returncode != 0:
        fail(f"helm template {values_file.name} {sets or ''} failed: {res.stderr.strip()}")
        return []
    return [d for d in yaml.safe_load_all(res.stdout) if d]


def by_kind(ds: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in ds if d["kind"] == kind}


def compose_env() -> dict[str, set[str]]:
    raw = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    out = {}
    for svc in SERVICES:
        env = raw["services"][f"svc-{svc}"]["environment"]
        # Passed through only when set (tracing), and the lease owner left unset on purpose.
        out[svc] = {k for k in env if not k.startswith("OTEL_") and k != "TASKFLOW_EXECUTOR_INSTANCE"}
    return out


def deep_merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def check_values_file(path: Path) -> None:
    values = yaml.safe_load(CHART.joinpath("values.yaml").read_text())
    override = yaml.safe_load(path.read_text()) or {}
    ds = docs(path)
    if not ds:
        return
    deps, svcs = by_kind(ds, "Deployment"), by_kind(ds, "Service")
    pdbs, hpas = by_kind(ds, "PodDisruptionBudget"), by_kind(ds, "HorizontalPodAutoscaler")
    if by_kind(ds, "Secret"):
        fail(f"{path.name}: the chart renders a Secret; it must only reference existing ones")
    wanted_env = compose_env()
    for svc in SERVICES:
        name = f"t-taskflow-{svc}"
        d = deps.get(name)
        if d is None:
            fail(f"{path.name}: no Deployment {name}")
            continue
        sv = deep_merge(values["services"][svc], (override.get("services") or {}).get(svc) or {})
        scaled = (sv.get("autoscaling") or {}).get("enabled")
        if scaled:
            if "replicas" in d["spec"]:
                fail(f"{path.name}: {name} sets replicas although its HPA owns them")
            if name not in hpas:
                fail(f"{path.name}: {name} has autoscaling enabled but no HPA")
        elif d["spec"].get("replicas") != sv["replicas"]:
            fail(f"{path.name}: {name} replicas {d['spec'].get('replicas')}, values say {sv['replicas']}")
        if bool((sv.get("podDisruptionBudget") or {}).get("enabled")) != (name in pdbs):
            fail(f"{path.name}: {name} PDB rendered={name in pdbs}, enabled={sv.get('podDisruptionBudget')}")
        if name not in svcs:
            fail(f"{path.name}: no Service {name}")
        pod = d["spec"]["template"]["spec"]
        (c,) = pod["containers"]
        port = c["ports"][0]["containerPort"]
        if c["readinessProbe"]["httpGet"] != {"path": "/health/ready", "port": "http"}:
            fail(f"{path.name}: {name} readiness is {c['readinessProbe']['httpGet']}, not /health/ready")
        if c["livenessProbe"]["httpGet"] != {"path": "/health/live", "port": "http"}:
            fail(f"{path.name}: {name} liveness is {c['livenessProbe']['httpGet']}, not /health/live")
        if not c.get("resources", {}).get("requests") or not c["resources"].get("limits"):
            fail(f"{path.name}: {name} has no resource requests and limits")
        sc, psc = c.get("securityContext", {}), pod.get("securityContext", {})
        if not (psc.get("runAsNonRoot") and sc.get("readOnlyRootFilesystem") and sc.get("allowPrivilegeEscalation") is False):
            fail(f"{path.name}: {name} security context is not non-root, read-only, no privilege escalation")
        env = {e["name"]: e for e in c["env"]}
        bind = env.get(sv["bindEnv"], {}).get("value")
        if bind != f"0.0.0.0:{port}":
            fail(f"{path.name}: {name} {sv['bindEnv']}={bind}, container port {port}")
        db = env.get(sv["database"]["envVar"], {}).get("valueFrom", {}).get("secretKeyRef")
        if db != {"name": sv["database"]["existingSecret"], "key": sv["database"].get("key", "uri")}:
            fail(f"{path.name}: {name} database URL from {db}, values say {sv['database']}")
        # Every service has /v1/admin/* routes, all behind the one admin token.
        token = env.get("TASKFLOW_ADMIN_TOKEN", {}).get("valueFrom", {}).get("secretKeyRef")
        admin = deep_merge(values["adminToken"], override.get("adminToken") or {})
        want_token = {"name": admin["existingSecret"], "key": admin["key"]}
        if token != want_token:
            fail(f"{path.name}: {name} TASKFLOW_ADMIN_TOKEN from {token}, expected the Secret {want_token}")
        extra = set(env) - wanted_env[svc] - {"RUST_LOG"}
        missing = wanted_env[svc] - set(env)
        if extra or missing:
            fail(f"{path.name}: {name} env differs from compose.yaml's: extra {sorted(extra)}, missing {sorted(missing)}")
        strimzi_on = ((override.get("strimzi") or {}).get("topics") or {}).get("enabled")
        create = (override.get("kafka") or {}).get("createTopics", values["kafka"]["createTopics"])
        want_create = "false" if strimzi_on or str(create).lower() == "false" else "true"
        got_create = env.get("TASKFLOW_CREATE_TOPICS", {}).get("value")
        if got_create != want_create:
            fail(f"{path.name}: {name} TASKFLOW_CREATE_TOPICS={got_create!r}, expected {want_create!r} "
                 f"(strimzi.topics.enabled={bool(strimzi_on)}, kafka.createTopics={create})")
        if svc == "executor":
            drain = int(env["TASKFLOW_DRAIN_MS"]["value"])
            if pod["terminationGracePeriodSeconds"] * 1000 <= drain:
                fail(f"{path.name}: executor grace {pod['terminationGracePeriodSeconds']} s <= drain {drain} ms")
    topics = by_kind(ds, "KafkaTopic")
    strimzi = ((override.get("strimzi") or {}).get("topics") or {}).get("enabled")
    if strimzi:
        prefix = (override.get("kafka") or {}).get("topicPrefix", "")
        names = {t["spec"]["topicName"] for t in topics.values()}
        want = {prefix + n for n in STREAMS}
        want |= {f"{prefix}taskflow.deadletter.svc-{s}.v1" for s in SERVICES}
        if names != want:
            fail(f"{path.name}: KafkaTopics {sorted(names)}, expected {sorted(want)}")
        for t in topics.values():
            compact = t["spec"]["config"].get("cleanup.policy") == "compact"
            if compact != (t["spec"]["topicName"].removeprefix(prefix) in COMPACTED):
                fail(f"{path.name}: {t['spec']['topicName']} compaction is wrong")
            if not t["metadata"]["labels"].get("strimzi.io/cluster") or not isinstance(t["spec"]["partitions"], int):
                fail(f"{path.name}: KafkaTopic {t['metadata']['name']} lacks its cluster label or partitions")
    elif topics:
        fail(f"{path.name}: KafkaTopics rendered although strimzi.topics.enabled is off")
    print(f"  {path.name}: {len(deps)} Deployments, {len(pdbs)} PDBs, {len(hpas)} HPAs, {len(topics)} KafkaTopics as the values say")


def check_create_topics(minimal: Path) -> None:
    """Topics from Strimzi's Topic Operator must never be created by a service first: the
    setting is off whenever the chart renders KafkaTopics, whatever kafka.createTopics says."""
    cases = {
        "defaults": ([], "true"),
        "strimzi.topics.enabled": (["strimzi.topics.enabled=true"], "false"),
        "strimzi.topics.enabled with kafka.createTopics=true": (
            ["strimzi.topics.enabled=true", "kafka.createTopics=true"], "false"),
        "kafka.createTopics=false": (["kafka.createTopics=false"], "false"),
    }
    for what, (sets, want) in cases.items():
        ds = docs(minimal, sets)
        deps = by_kind(ds, "Deployment")
        if len(deps) != len(SERVICES):
            fail(f"create topics, {what}: {len(deps)} Deployments rendered")
        for name, d in deps.items():
            (c,) = d["spec"]["template"]["spec"]["containers"]
            got = {e["name"]: e.get("value") for e in c["env"]}.get("TASKFLOW_CREATE_TOPICS")
            if got != want:
                fail(f"create topics, {what}: {name} TASKFLOW_CREATE_TOPICS={got!r}, expected {want!r}")
        topics = len(by_kind(ds, "KafkaTopic"))
        if (topics > 0) != ("strimzi.topics.enabled=true" in sets):
            fail(f"create topics, {what}: {topics} KafkaTopics rendered")
    print(f"  TASKFLOW_CREATE_TOPICS as rendered: {'; '.join(f'{w} -> {v}' for w, (_, v) in cases.items())}")


def check_refusals(minimal: Path) -> None:
    bad = {
        "executor grace not above its drain time": ["services.executor.terminationGracePeriodSeconds=20",
                                                      "services.executor.drainMs=20000"],
        "no Kafka": ["kafka.bootstrapServers="],
        "no admin token Secret": ["adminToken.existingSecret="],
        "no database Secret": ["services.notify.database.existingSecret="],
    }
    for what, sets in bad.items():
        if render(minimal, sets).returncode == 0:
            fail(f"the chart renders with {what} ({' '.join(sets)})")
    print(f"  refused: {', '.join(bad)}")


def main() -> int:
    files = sorted(CHART.joinpath("ci").glob("*-values.yaml"))
    for f in files:
        check_values_file(f)
    check_create_topics(CHART / "ci" / "minimal-values.yaml")
    check_refusals(CHART / "ci" / "minimal-values.yaml")
    for f in failures:
        print(f"FAIL {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
