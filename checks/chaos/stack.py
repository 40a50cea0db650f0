"""The running `make up` stack as chaos sees it: its addresses (dev.env), its pieces (pidfiles,
checks/chaos/piece.sh), bringing it back (deploy/up.sh) and plain HTTP to its services."""
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIECE = ROOT / "checks" / "chaos" / "piece.sh"
UP = ROOT / "deploy" / "up.sh"


@dataclass
class Reply:
    """One HTTP exchange. status 0: no HTTP answer at all (refused, reset, timed out)."""
    status: int
    headers: dict = field(default_factory=dict)
    body: bytes = b""
    failure: str = ""

    def json(self):
        return json.loads(self.body or b"null")


def http(method, url, token=None, body=None, headers=None, timeout=10.0):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Reply(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        return Reply(0, failure=type(reason).__name__ if not isinstance(reason, str) else reason)


class Stack:
    def __init__(self, executors, log_dir):
        self.env = dict(os.environ)
        self.api = self.env["TASKFLOW_API_URL"]
        self.scheduler = self.env["TASKFLOW_SCHEDULER_URL"]
        self.notify = self.env["TASKFLOW_NOTIFY_URL"]
        self.admin_token = self.env["TASKFLOW_ADMIN_TOKEN"]
        self.executors = executors
        self.log_dir = log_dir

    # --- pieces -------------------------------------------------------------------------------
    def piece(self, action, name=""):
        args = [str(PIECE), action] + ([name] if name else [])
        done = subprocess.run(args, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"piece.sh {action} {name}: {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout.strip()

    def up(self, executors=None, why="heal"):
        """`make up` with the executor count chaos runs with: starts whatever does not run."""
        env = dict(self.env, EXECUTORS=str(executors or self.executors))
        env.pop("TRACING", None)  # keep the trace backend as it is
        with open(self.log_dir / "up.log", "a") as log:
            log.write(f"\n===== {time.strftime('%H:%M:%S')} {why}: deploy/up.sh EXECUTORS={env['EXECUTORS']}\n")
            log.flush()
            done = subprocess.run([str(UP)], env=env, stdout=log, stderr=subprocess.STDOUT)
        if done.returncode != 0:
            raise RuntimeError(f"deploy/up.sh failed while healing ({why}); see {self.log_dir / 'up.log'}")

    # --- tenants --------------------------------------------------------------------------------
    def new_tenant(self, name):
        reply = http("POST", f"{self.api}/v1/admin/tenants", self.admin_token, {"name": name})
        if reply.status != 201 and reply.status != 200:
            raise RuntimeError(f"creating tenant {name}: HTTP {reply.status} {reply.body[:300]!r} {reply.failure}")
        created = reply.json()
        return created["tenant_id"], created["api_key"]

    def wait_until_scheduler_knows(self, key, seconds=60):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if http("GET", f"{self.scheduler}/v1/schedules", key).status == 200:
                return
            time.sleep(0.3)
        raise RuntimeError("svc-scheduler did not learn the run's API key within 60 s")
