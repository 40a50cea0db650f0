#!/usr/bin/env python3
"""Checks of the Docker deployment that need no Docker engine (run by checks/compose-check.sh).

  env         every variable a service reads (its `--print-config` table) is in
              deploy/.env.example, every variable there is read by some service, and each value
              equals the service's default unless the comment above it names that default
  compose     `docker-compose config` accepts deploy/compose.yaml with that file; each service's
              environment holds exactly the variables its code reads; images, healthchecks,
              depends_on, volumes, published ports, scaling and profiles follow the rules
  dockerfile  deploy/docker/Dockerfile: multi-stage, dependencies cached apart from sources
              (cargo-chef), slim runtime, non-root USER, HEALTHCHECK on /health/live, only the
              binary (+ CA certificates and the shared libraries it links), OCI labels
  build       the image builds the binary the way `make up` does (deploy/lib.sh): same cargo
              command, profile and features

Usage: compose_check.py [env|compose|dockerfile|build ...] (default: all). Exit 1 on a failure.
"""

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
ENV_EXAMPLE = DEPLOY / ".env.example"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
SERVICES = {  # service -> HTTP port inside the container (the *_BIND variable's port)
    "svc-tasks": 18090,
    "svc-executor": 18091,
    "svc-notify": 18095,
    "svc-scheduler": 18096,
}
BIND_VARS = {
    "svc-tasks": "TASKFLOW_TASKS_BIND",
    "svc-executor": "TASKFLOW_EXECUTOR_BIND",
    "svc-notify": "TASKFLOW_NOTIFY_BIND",
    "svc-scheduler": "TASKFLOW_SCHEDULER_BIND",
}
# Set by the container runtime, never by compose or the env file.
RUNTIME_VARS = {"HOSTNAME"}
# Published host ports, and by whom: nothing else may publish one. The entry point (nginx) holds
# every HTTP route of the services (deploy/compose/nginx.conf.template); its host port comes from
# TASKFLOW_ENTRY_PORT, a variable compose.yaml reads itself (STACK_VARS), not a service. Kafka and
# the registry are published for clients on the host (the stock-client check), on loopback only.
PUBLIC_PORTS = {"nginx": {18080}, "jaeger": {16686}, "kafka": {18092}, "registry": {18083}}
LOOPBACK_ONLY = {"kafka", "registry"}
STACK_VARS = {"TASKFLOW_ENTRY_PORT", "TASKFLOW_KAFKA_HOST_PORT", "TASKFLOW_REGISTRY_HOST_PORT"}

failures: list[str] = []


def fail(section: str, message: str) -> None:
    failures.append(f"{section}: {message}")


# --- what the code reads ------------------------------------------------------------------

def service_binary(svc: str) -> Path:
    """The service as `make up` built it (dev profile in target/debug, or a release build),
    the newer when both exist."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache" / "taskflow" / "target"))
    built = [b for b in (target / "debug" / svc, target / "release" / svc) if b.is_file()]
    if not built:
        fail("env", f"{svc} is not built under {target} (make up builds it)")
        return Path("/nonexistent")
    return max(built, key=lambda b: b.stat().st_mtime)


def code_reads() -> tuple[dict[str, set[str]], dict[str, str]]:
    """(service -> variables it reads, variable -> its default) from each service's own table:
    `svc-… --print-config` prints one line a variable, name TAB default-or-`required` TAB
    meaning, exactly what its code reads (a unit test in each service holds it to that)."""
    per_service: dict[str, set[str]] = {}
    defaults: dict[str, str] = {}
    for svc in SERVICES:
        binary = service_binary(svc)
        if not binary.is_file():
            per_service[svc] = set()
            continue
        out = subprocess.run([str(binary), "--print-config"], capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            fail("env", f"{binary} --print-config exited {out.returncode}: {out.stderr.strip()}")
            per_service[svc] = set()
            continue
        names = set()
        for line in out.stdout.splitlines():
            if not line or line.startswith("#"):
                continue
            name, default, _meaning = line.split("\t", 2)
            names.add(name)
            if default != "required":
                defaults[name] = default
        per_service[svc] = names
    return per_service, defaults


def normalise(value: str) -> str:
    """1.0 and 1 are the same number to a service's parser."""
    try:
        number = float(value)
    except ValueError:
        return value
    return str(int(number)) if number.is_integer() else str(number)


def parse_env_example() -> tuple[dict[str, str], set[str], dict[str, str]]:
    """(set NAME -> value, documented-only names, NAME -> comment block above it)."""
    values: dict[str, str] = {}
    documented: set[str] = set()
    comments: dict[str, str] = {}
    block: list[str] = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        m = re.match(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$", line)
        if m:
            name = m.group(2)
            if name in values or name in documented:
                fail("env", f".env.example lists {name} twice")
            if m.group(1):
                documented.add(name)
            else:
                values[name] = m.group(3)
            comments[name] = " ".join(block)
            block = []
        elif line.startswith("#"):
            block.append(line)
        else:
            block = []
    return values, documented, comments


def check_env() -> None:
    per_service, defaults = code_reads()
    read = set().union(*per_service.values())
    values, documented, comments = parse_env_example()
    listed = set(values) | documented
    for name in sorted(read - listed):
        users = ", ".join(s for s, names in per_service.items() if name in names)
        fail("env", f"{name} is read by {users} but missing from deploy/.env.example")
    for name in sorted(listed - read - STACK_VARS):
        fail("env", f"deploy/.env.example lists {name}, which no service reads")
    for name, value in sorted(values.items()):
        if name not in defaults:
            continue
        default = normalise(defaults[name])
        if normalise(value) == default:
            continue
        said = f"`{default}`" in comments[name] if default else "code default: empty" in comments[name]
        if not said:
            fail("env", f"{name}={value} differs from the code default {default!r} and the comment "
                        f"above it does not say so (write: code default `{default}`)")
    print(f"  env: {len(read)} variables read by the services, all in deploy/.env.example "
          f"({len(values)} set, {len(documented)} documented only)")


# --- compose ------------------------------------------------------------------------------

def compose_config(env_file: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = ["docker-compose", "-p", "taskflow", "-f", str(COMPOSE), "--env-file", str(env_file), *extra, "config"]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)


def native_versions() -> dict[str, str]:
    lib = (DEPLOY / "lib.sh").read_text()
    out = {k: re.search(rf"^{k}=(\S+)", lib, re.M).group(1) for k in ("KAFKA_VERSION", "REGISTRY_VERSION")}
    out["PG_DATABASES"] = re.search(r"^PG_DATABASES=\(([^)]*)\)", lib, re.M).group(1).split()
    return out


def check_compose() -> None:
    import yaml  # python3-yaml, a dependency of Debian's docker-compose

    res = compose_config(ENV_EXAMPLE, "--profile", "tracing")
    if res.returncode != 0:
        fail("compose", f"docker-compose config rejects deploy/compose.yaml:\n{res.stderr.strip()}")
        return
    if "WARNING" in res.stderr:
        fail("compose", f"docker-compose config warns: {res.stderr.strip()}")
    config = yaml.safe_load(res.stdout)
    raw = yaml.safe_load(COMPOSE.read_text())
    services = config.get("services", {})
    per_service, _ = code_reads()
    values, documented, _ = parse_env_example()
    native = native_versions()

    # A variable missing from the env file must stop compose, not start a service without it.
    with tempfile.NamedTemporaryFile("w", suffix=".env") as partial:
        partial.write("".join(f"{k}={v}\n" for k, v in values.items() if k != "DATABASE_URL_TASKS"))
        partial.flush()
        if compose_config(Path(partial.name)).returncode == 0:
            fail("compose", "compose.yaml starts without DATABASE_URL_TASKS in the env file")

    for svc, port in SERVICES.items():
        s = services.get(svc)
        if s is None:
            fail("compose", f"no service {svc}")
            continue
        env = s.get("environment") or {}
        want = per_service[svc] - RUNTIME_VARS
        for name in sorted(want - set(env)):
            fail("compose", f"{svc} reads {name} but compose.yaml does not pass it")
        for name in sorted(set(env) - want):
            fail("compose", f"{svc} is given {name}, which it does not read")
        for name in sorted(want & set(env)):
            if env[name] is None and name in values:
                fail("compose", f"{svc}: {name} is set in .env.example but passed without a value")
            if env[name] is not None and name in documented and name != BIND_VARS[svc]:
                fail("compose", f"{svc}: {name} is documented as unset but compose.yaml sets it")
            if env[name] is not None and name in values and str(env[name]) != values[name]:
                fail("compose", f"{svc}: {name}={env[name]!r}, .env.example says {values[name]!r}")
        if str(env.get(BIND_VARS[svc])) != f"0.0.0.0:{port}":
            fail("compose", f"{svc}: {BIND_VARS[svc]} must be 0.0.0.0:{port} (healthcheck and ports use it)")
        build = s.get("build") or {}
        args = build.get("args") or {}
        if build.get("dockerfile") != "deploy/docker/Dockerfile" or build.get("target") != svc:
            fail("compose", f"{svc} is not built from deploy/docker/Dockerfile with target {svc}")
        if dockerfile_ports().get(svc) != port:
            fail("compose", f"{svc}: the Dockerfile target's HEALTHCHECK_PORT is {dockerfile_ports().get(svc)}, "
                            f"but it listens on {port}")
        if "PROFILE" in args:
            fail("compose", f"{svc}: build arg PROFILE overrides the release profile `make up` uses")
        for dep in ("postgres", "kafka", "registry"):
            cond = (s.get("depends_on") or {}).get(dep, {}).get("condition")
            if cond != "service_healthy":
                fail("compose", f"{svc} must depend on {dep} with condition service_healthy")
        if s.get("ports"):
            fail("compose", f"{svc} publishes {s['ports']}: only the entry point (nginx) is published")

    ex = raw["services"]["svc-executor"]
    if "container_name" in ex or ex.get("ports"):
        fail("compose", "svc-executor must have no container_name and no published port (--scale)")
    for name, s in raw["services"].items():
        if "container_name" in s:
            fail("compose", f"{name} has a container_name")
        published = set()
        for p in (services.get(name) or {}).get("ports") or []:
            host = p.get("published") if isinstance(p, dict) else (str(p).split(":")[-2] if str(p).count(":") else None)
            if not host:
                fail("compose", f"{name} publishes {p} on a random host port")
                continue
            published.add(int(host))
            ip = p.get("host_ip") if isinstance(p, dict) else (str(p).split(":")[0] if str(p).count(":") == 2 else None)
            if name in LOOPBACK_ONLY and ip != "127.0.0.1":
                fail("compose", f"{name} publishes {p} beyond loopback: only 127.0.0.1 may reach it unauthenticated")
        if published - PUBLIC_PORTS.get(name, set()):
            fail("compose", f"{name} publishes {sorted(published)}; only public ports may be published")
        for v in s.get("volumes") or []:
            source = str(v).split(":")[0]
            if source.startswith(("/", ".")) and not str(v).endswith(":ro"):
                fail("compose", f"{name} mounts host path {v} read-write (use a named volume)")
        if name not in ("jaeger",) and "healthcheck" not in s and name not in SERVICES:
            fail("compose", f"{name} has no healthcheck")

    images = {n: s.get("image", "") for n, s in raw["services"].items()}
    expect = {
        "postgres": "postgres:15",
        "kafka": f"apache/kafka:{native['KAFKA_VERSION']}",
        "registry": f"apicurio/apicurio-registry:{native['REGISTRY_VERSION']}",
        "nginx": "nginx:stable-bookworm",
    }
    for name, image in expect.items():
        if images.get(name) != image:
            fail("compose", f"{name} image is {images.get(name)!r}; expected {image} (the version `make up` runs)")
    if not images.get("jaeger", "").startswith("jaegertracing/jaeger:2"):
        fail("compose", "jaeger must be jaegertracing/jaeger:2.x")
    if raw["services"].get("jaeger", {}).get("profiles") != ["tracing"]:
        fail("compose", "jaeger must be in the `tracing` profile only")
    for name in ("postgres", "kafka"):
        vols = [str(v).split(":")[0] for v in raw["services"][name].get("volumes") or []]
        if not any(v in (raw.get("volumes") or {}) for v in vols):
            fail("compose", f"{name} keeps its data in no named volume")

    reg = services["registry"]["environment"]
    want_reg = {
        "APICURIO_STORAGE_KIND": "sql",
        "APICURIO_STORAGE_SQL_KIND": "postgresql",
        "APICURIO_DATASOURCE_URL": "jdbc:postgresql://postgres:5432/taskflow_registry",
        "APICURIO_RULES_GLOBAL_COMPATIBILITY": "BACKWARD",
    }
    for k, v in want_reg.items():
        if str(reg.get(k)) != v:
            fail("compose", f"registry: {k}={reg.get(k)!r}, expected {v}")
    if services["registry"].get("depends_on", {}).get("postgres", {}).get("condition") != "service_healthy":
        fail("compose", "registry must wait for a healthy postgres")

    template = (DEPLOY / "compose" / "nginx.conf.template").read_text()
    for svc, port in SERVICES.items():
        if svc != "svc-executor" and f"http://{svc}:{port}" not in template:
            fail("compose", f"nginx.conf.template does not route to {svc}:{port}")
    if not re.search(r"location ~ \^/v1/tasks/\[\^/\]\+/stream\$ \{[^}]*\$notify", template):
        fail("compose", "nginx.conf.template must send /v1/tasks/{id}/stream to svc-notify before /v1/ svc-tasks")

    init = (DEPLOY / "compose" / "postgres-init.sh").read_text()
    m = re.search(r"for db in ([^;]*);", init)
    if not m or m.group(1).split() != native["PG_DATABASES"]:
        fail("compose", f"postgres-init.sh databases differ from deploy/lib.sh PG_DATABASES {native['PG_DATABASES']}")
    for svc in SERVICES:
        var = f"DATABASE_URL_{svc.removeprefix('svc-').upper()}"
        db = values.get(var, "").rsplit("/", 1)[-1]
        if db != f"taskflow_{svc.removeprefix('svc-')}":
            fail("compose", f"{var} names database {db!r}; `make up` uses taskflow_{svc.removeprefix('svc-')}")
    if not values.get("SCHEMA_REGISTRY_URL", "").endswith("/apis/ccompat/v7"):
        fail("compose", "SCHEMA_REGISTRY_URL must be the registry's /apis/ccompat/v7 base, as natively")

    print(f"  compose: docker-compose config accepts compose.yaml ({len(services)} services with the "
              f"tracing profile); every service gets exactly the variables its code reads")


# --- Dockerfile ---------------------------------------------------------------------------

def instructions(path: Path) -> list[tuple[str, str]]:
    out, buf = [], ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if buf and stripped.startswith("#"):
            continue
        buf += " " + stripped.rstrip("\\").strip() if buf else stripped.rstrip("\\").strip()
        if not stripped.endswith("\\"):
            op, _, rest = buf.partition(" ")
            out.append((op.upper(), rest.strip()))
            buf = ""
    return out


# Shared libraries the runtime's base image has, and the Debian package that ships the others.
BASE_LIBS = {"linux-vdso.so.1", "libc.so.6", "libm.so.6", "libgcc_s.so.1", "libz.so.1",
             "ld-linux-x86-64.so.2", "libpthread.so.0", "libdl.so.2", "librt.so.1"}
LIB_PACKAGES = {"libssl.so.3": "libssl3", "libcrypto.so.3": "libssl3"}


def target_dir() -> Path:
    return Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache" / "taskflow" / "target"))


def dockerfile_ports() -> dict[str, int]:
    """Service target -> the HEALTHCHECK_PORT it sets."""
    out, stage = {}, None
    for op, rest in instructions(DOCKERFILE):
        if op == "FROM":
            m = re.match(r"\S+(?:\s+AS\s+(\S+))?", rest, re.I)
            stage = m.group(1)
        elif op == "ENV" and stage in SERVICES and (m := re.match(r"HEALTHCHECK_PORT=(\d+)", rest)):
            out[stage] = int(m.group(1))
    return out


def check_dockerfile() -> None:
    ins = instructions(DOCKERFILE)
    stages: list[dict] = []
    for op, rest in ins:
        if op == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", rest, re.I)
            stages.append({"image": m.group(1), "name": m.group(2), "ins": []})
        elif stages:
            stages[-1]["ins"].append((op, rest))
    if len(stages) < 2:
        fail("dockerfile", "not multi-stage")
        return
    runtime = next((s for s in stages if s["name"] == "runtime"), stages[-1])
    targets = {s["name"]: s for s in stages if s["name"] in SERVICES}
    for svc in SERVICES:
        t = targets.get(svc)
        if t is None or t["image"] != "runtime":
            fail("dockerfile", f"no target {svc} FROM runtime")
            continue
        t_copies = [r for op, r in t["ins"] if op in ("COPY", "ADD")]
        if t_copies != [f"--from=builder /out/{svc} /usr/local/bin/service"]:
            fail("dockerfile", f"target {svc} copies {t_copies}; only its binary from the builder is allowed")
        if any(op in ("RUN", "USER") for op, _ in t["ins"]):
            fail("dockerfile", f"target {svc} runs commands or changes USER; it only adds its binary")
    if not re.match(r"(debian:\$\{DEBIAN_RELEASE\}|debian:\S+)-slim$|gcr\.io/distroless/", runtime["image"]):
        fail("dockerfile", f"runtime stage is {runtime['image']}, not debian slim or distroless")
    builder = next((s for s in stages if s["name"] == "builder"), None)
    if builder is None:
        fail("dockerfile", "no stage named builder")
        return
    ops = builder["ins"]
    cook = next((i for i, (op, r) in enumerate(ops) if op == "RUN" and "cargo chef cook" in r), None)
    sources = next((i for i, (op, r) in enumerate(ops) if op == "COPY" and re.match(r"\.\s+\.", r)), None)
    build = next((i for i, (op, r) in enumerate(ops) if op == "RUN" and "cargo build" in r), None)
    if cook is None or sources is None or build is None or not cook < sources < build:
        fail("dockerfile", "builder must cook dependencies (cargo chef cook) before copying the sources, then build")
    if any(op == "COPY" and re.match(r"\.\s+\.", r) for op, r in ops[:cook or 0]):
        fail("dockerfile", "sources copied before the dependency layer")
    planner = next((s for s in stages if any("cargo chef prepare" in r for _, r in s["ins"])), None)
    if planner is None:
        fail("dockerfile", "no planner stage (cargo chef prepare)")

    r_ops = runtime["ins"]
    users = [r for op, r in r_ops if op == "USER"]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        fail("dockerfile", "runtime stage does not end as a non-root USER")
    hc = [r for op, r in r_ops if op == "HEALTHCHECK"]
    if not hc or "/health/live" not in hc[-1]:
        fail("dockerfile", "no HEALTHCHECK on /health/live")
    if not any(op == "ENTRYPOINT" and r.startswith("[") for op, r in r_ops):
        fail("dockerfile", "no exec-form ENTRYPOINT")
    copies = [r for op, r in r_ops if op in ("COPY", "ADD")]
    if copies:
        fail("dockerfile", f"runtime stage copies {copies}; only the targets copy their binary from the builder")
    packages: set[str] = set()
    for op, r in r_ops:
        if op == "RUN":
            for m in re.finditer(r"apt-get install ((?:-\S+\s+)*)([^&;]+)", r):
                packages |= {p for p in m.group(2).split() if not p.startswith("-")}
    if "ca-certificates" not in packages:
        fail("dockerfile", "runtime stage lacks ca-certificates")
    extra = packages - {"ca-certificates"} - set(LIB_PACKAGES.values())
    if extra:
        fail("dockerfile", f"runtime stage installs {sorted(extra)}: only CA certificates and linked libraries")
    labels = " ".join(r for s in [runtime, *targets.values()] for op, r in s["ins"] if op == "LABEL")
    for key in ("title", "description", "version", "revision", "licenses", "source"):
        if f"org.opencontainers.image.{key}=" not in labels:
            fail("dockerfile", f"label org.opencontainers.image.{key} missing")

    # The libraries the binaries link (the ones `make up` built here, when present).
    linked_note = "no release binaries built here, ldd skipped"
    bins = [target_dir() / "release" / s for s in SERVICES if (target_dir() / "release" / s).exists()]
    if bins:
        needed: set[str] = set()
        for b in bins:
            out = subprocess.run(["ldd", str(b)], capture_output=True, text=True).stdout
            needed |= {re.split(r"\s", line.strip())[0].rsplit("/", 1)[-1] for line in out.splitlines() if line.strip()}
        for lib in sorted(needed - BASE_LIBS):
            pkg = LIB_PACKAGES.get(lib)
            if pkg is None or pkg not in packages:
                fail("dockerfile", f"the binaries link {lib}, which the runtime stage does not install")
        linked_note = f"ldd of {len(bins)} release binaries: {', '.join(sorted(needed - BASE_LIBS)) or 'nothing'} beyond the base"
    print(f"  dockerfile: {len(stages)} stages, cargo-chef dependency layer, {runtime['image']} runtime, "
          f"USER {users[-1] if users else '?'}, HEALTHCHECK /health/live; {linked_note}")


# --- build parity -------------------------------------------------------------------------

FEATURE_FLAGS = re.compile(r"--(?:features|all-features|no-default-features)\b|\s-F\s")


def check_build() -> None:
    ins = instructions(DOCKERFILE)
    text = " ".join(r for _, r in ins)
    builds = [r for op, r in ins if op == "RUN" and re.search(r"cargo (build|chef cook)", r)]
    default_profile = next((m for op, r in ins if op == "ARG" and (m := re.match(r"PROFILE=(\S+)", r))), None)
    lib = (DEPLOY / "lib.sh").read_text()
    native_profile = re.search(r'SERVICE_PROFILE="\$\{TASKFLOW_PROFILE:-(\w+)\}"', lib)
    # The image is what production runs: release. `make up` defaults to the dev profile that
    # `make test` shares; TASKFLOW_PROFILE=release makes it build exactly what the image builds.
    if not default_profile or default_profile.group(1) != "release":
        fail("build", f"Dockerfile PROFILE default is {default_profile and default_profile.group(1)}, not release")
    if not native_profile:
        fail("build", "deploy/lib.sh has no SERVICE_PROFILE=\"${TASKFLOW_PROFILE:-…}\"")
    for r in builds:
        if FEATURE_FLAGS.search(r):
            fail("build", f"Dockerfile selects features: {r}")
        if '--profile "${PROFILE}"' not in r:
            fail("build", f"Dockerfile build does not use --profile \"${{PROFILE}}\": {r}")
    final = next((r for r in builds if "cargo build" in r), "")
    for flag in ["--locked"] + [f"-p {svc} --bin {svc}" for svc in SERVICES]:
        if flag not in final:
            fail("build", f"Dockerfile's cargo build lacks {flag}")
    # make up's one build of the four services (deploy/lib.sh services_build_start).
    listed = re.search(r"^SERVICES=\(([^)]*)\)", lib, re.M)
    native_services = listed.group(1).split() if listed else []
    if sorted(native_services) != sorted(SERVICES):
        fail("build", f"deploy/lib.sh SERVICES={native_services}, expected {sorted(SERVICES)}")
    body = lib[lib.find("services_build_start() {"):]
    body = body[:body.find("\n}\n")]
    args = re.search(r"local args=\(([^)]*)\)", body)
    per_service = re.search(r'args\+=\(([^)]*)\)', body)
    if not args or '--profile "$SERVICE_PROFILE"' not in args.group(1):
        fail("build", f"make up's build does not use --profile \"$SERVICE_PROFILE\": {args and args.group(1)}")
    if not per_service or per_service.group(1).split() != ['-p', '"$svc"', '--bin', '"$svc"']:
        fail("build", f"make up's build does not build -p <service> --bin <service>: {per_service and per_service.group(1)}")
    if FEATURE_FLAGS.search(body):
        fail("build", "make up's build selects features the image does not use")
    print(f"  build: image (release) and `make up` ({native_profile.group(1) if native_profile else '?'}, "
          f"TASKFLOW_PROFILE=release for the image's) both run cargo build --profile <p> -p <service> "
          f"--bin <service> for {len(native_services)} services, no feature flags; image adds --locked")


def main() -> int:
    wanted = sys.argv[1:] or ["env", "compose", "dockerfile", "build"]
    checks = {"env": check_env, "compose": check_compose, "dockerfile": check_dockerfile, "build": check_build}
    for name in wanted:
        checks[name]()
    if failures:
        for f in failures:
            print(f"FAIL {f}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
