#!/usr/bin/env python3
"""The compose stack, tried through its one entry point (run by checks/compose-test.sh).

  work     routes (a task's JSON vs its SSE stream, /docs, /openapi.json, the dashboard, the
           WebSocket upgrade); 100 tasks submitted while the executor container is killed
           mid-run, one followed over SSE to `completed`; every task ends exactly once (one
           terminal event in its log); a 6-field cron schedule every 2 s fires tasks
  kept     after the stack was stopped and started again: the tasks of `work` are still there

Reads TASKFLOW_API_URL, TASKFLOW_API_KEY (the entry point and the dev tenant, from the stack's
dev.env) and TASKFLOW_COMPOSE_ENGINE / TASKFLOW_COMPOSE_PROJECT to kill the executor.
Usage: compose_test.py work|kept STATE_FILE
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

URL = os.environ["TASKFLOW_API_URL"].rstrip("/")
KEY = os.environ["TASKFLOW_API_KEY"]
ENGINE = os.environ.get("TASKFLOW_COMPOSE_ENGINE", "podman")
PROJECT = os.environ.get("TASKFLOW_COMPOSE_PROJECT", "taskflow")
TERMINAL = {"completed", "failed", "cancelled", "dead_lettered"}


def log(msg: str) -> None:
    print(f"[compose-test] {msg}", flush=True)


def http(method: str, path: str, body=None, headers=None, timeout=15):
    h = {"Authorization": f"Bearer {KEY}", **(headers or {})}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    req = urllib.request.Request(URL + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def ok_json(method: str, path: str, body=None, headers=None, want=(200, 201)):
    status, _, raw = http(method, path, body, headers)
    if status not in want:
        raise AssertionError(f"{method} {path} answered {status}: {raw[:300]!r}")
    return json.loads(raw)


def wait_until(what: str, pred, timeout: float, every: float = 1.0):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def task_state(task: dict) -> str:
    return str(task.get("state") or task.get("status") or "")


def submit(i: int, run_id: str) -> str:
    t = ok_json("POST", "/v1/tasks",
                {"type": "sleep", "payload": {"duration_ms": 1500, "steps": 3}, "priority": "normal"},
                {"Idempotency-Key": f"{run_id}-{i}"})
    return t.get("id") or t["task"]["id"]


def executor_containers() -> list[str]:
    out = subprocess.run([ENGINE, "ps", "-q", "--filter", f"label=com.docker.compose.project={PROJECT}",
                          "--filter", "label=com.docker.compose.service=svc-executor"],
                         capture_output=True, text=True, check=True).stdout
    return out.split()


def crash(container: str) -> None:
    """SIGKILL the container's main process, as a crash would. (`podman kill` counts as a stop by
    the user, after which `restart: unless-stopped` does not restart; `docker kill` does not.)"""
    if ENGINE == "podman":
        pid = subprocess.run([ENGINE, "inspect", "--format", "{{.State.Pid}}", container],
                             capture_output=True, text=True, check=True).stdout.strip()
        os.kill(int(pid), 9)
    else:
        subprocess.run([ENGINE, "kill", container], check=True, capture_output=True)


def restarted(before: str) -> bool:
    out = subprocess.run([ENGINE, "inspect", "--format", "{{.State.Running}} {{.RestartCount}}", before],
                         capture_output=True, text=True).stdout.split()
    return bool(out) and out[0] == "true" and int(out[1]) >= 1


def follow_sse(task_id: str, seen: list[str], done: threading.Event) -> None:
    """Reads /v1/tasks/{id}/stream through the entry point until `event: end`."""
    req = urllib.request.Request(f"{URL}/v1/tasks/{task_id}/stream",
                                 headers={"Authorization": f"Bearer {KEY}", "Accept": "text/event-stream"})
    # svc-notify learns of the task from Kafka: 404 until its TaskCreated arrives there.
    deadline = time.monotonic() + 30
    while True:
        try:
            r = urllib.request.urlopen(req, timeout=120)
            break
        except urllib.error.HTTPError as e:
            if e.code != 404 or time.monotonic() > deadline:
                seen.append(f"error:{e}")
                done.set()
                return
            time.sleep(0.3)
    try:
        with r:
            seen.append(f"content-type:{r.headers.get('Content-Type')}")
            for raw in r:
                line = raw.decode().rstrip("\n")
                seen.append(line)
                if line.startswith("event: end"):
                    break
    except Exception as e:  # noqa: BLE001 - reported by the caller through `seen`
        seen.append(f"error:{e}")
    finally:
        done.set()


def check_routes(task_id: str) -> None:
    status, headers, raw = http("GET", f"/v1/tasks/{task_id}")
    assert status == 200 and "json" in headers.get("Content-Type", ""), f"/v1/tasks/{{id}}: {status} {headers}"
    assert json.loads(raw), "empty task"
    status, headers, _ = http("GET", "/openapi.json")
    assert status == 200 and "json" in headers.get("Content-Type", ""), f"/openapi.json: {status}"
    status, headers, raw = http("GET", "/docs")
    assert status == 200 and b"swagger" in raw.lower(), f"/docs: {status}"
    status, headers, raw = http("GET", "/")
    assert status == 200 and "html" in headers.get("Content-Type", ""), f"dashboard /: {status} {headers}"
    status, _, _ = http("GET", "/v1/schedules")
    assert status == 200, f"/v1/schedules: {status}"
    status, _, _ = http("GET", "/v1/notifications")
    assert status == 200, f"/v1/notifications (svc-notify): {status}"
    # The WebSocket handshake through nginx: 101 Switching Protocols.
    host, port = URL.split("//", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall((f"GET /v1/ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                   f"Authorization: Bearer {KEY}\r\n\r\n").encode())
        first = s.recv(200).decode(errors="replace").split("\r\n", 1)[0]
    assert " 101 " in first, f"WebSocket upgrade through the entry point answered: {first}"
    log("routes: /v1/tasks/{id} JSON (svc-tasks), /v1/tasks/{id}/stream SSE (svc-notify), /docs, /openapi.json, "
        "dashboard, /v1/schedules, /v1/notifications, WebSocket 101")


def work(state_file: str) -> None:
    run_id = f"ct-{int(time.time())}"
    first = submit(0, run_id)
    seen: list[str] = []
    done = threading.Event()
    threading.Thread(target=follow_sse, args=(first, seen, done), daemon=True).start()
    check_routes(first)
    ids = [first]
    killed = False
    for i in range(1, 100):
        ids.append(submit(i, run_id))
        if i == 50:
            # Mid-run: tasks are running on the executor now. kill (SIGKILL), restart policy brings it back.
            before = executor_containers()
            assert before, "no executor container runs"
            wait_until("a task running", lambda: any(task_state(ok_json("GET", f"/v1/tasks/{t}")) == "running"
                                                     for t in ids[-10:]), 30, 0.3)
            crash(before[0])
            killed = True
            log(f"killed (SIGKILL) the executor in container {before[0][:12]} with tasks running")
    assert killed
    wait_until("the killed executor container restarted by its restart policy", lambda: restarted(before[0]), 60)
    log("the executor container was restarted by its restart policy")
    done.wait(120)
    assert any(line.startswith("content-type:text/event-stream") for line in seen), f"SSE: {seen[:3]}"
    assert any("completed" in line for line in seen) and any(l.startswith("event: end") for l in seen), \
        f"the SSE stream of {first} did not reach completed: {seen[-8:]}"
    log(f"followed task {first} over SSE through the entry point to completed ({len(seen)} lines)")

    def all_ended():
        states = [task_state(ok_json("GET", f"/v1/tasks/{t}")) for t in ids]
        return states if all(s in TERMINAL for s in states) else None
    states = wait_until("100 tasks to end", all_ended, 240, 3)
    assert all(s == "completed" for s in states), f"not all completed: {sorted(set(states))}"
    for t in ids:
        events = ok_json("GET", f"/v1/tasks/{t}/events")
        events = events.get("events", events) if isinstance(events, dict) else events
        kinds = [str(e.get("type")) for e in events]
        # Terminal: TaskCompleted, TaskCancelled, or a TaskFailed with final=true (schemas/avro).
        ends = [e["type"] for e in events if e.get("type") in ("TaskCompleted", "TaskCancelled")
                or (e.get("type") == "TaskFailed" and (e.get("data") or {}).get("final"))]
        assert len(ends) == 1, f"task {t} has {len(ends)} terminal events: {kinds}"
    log("100 tasks completed, each with exactly one terminal event, across an executor kill")

    sched = ok_json("POST", "/v1/schedules", {
        "name": f"compose-test {run_id}", "task": {"type": "noop", "payload": {}},
        "spec": {"cron": "*/2 * * * * *", "timezone": "UTC"}, "overlap": "allow_all"})
    sid = sched.get("id") or sched["schedule"]["id"]

    def fired():
        occ = ok_json("GET", f"/v1/schedules/{sid}/occurrences")
        occ = occ.get("items", []) if isinstance(occ, dict) else occ
        ran = [o for o in occ if o.get("outcome") == "triggered" and o.get("task_id") and o.get("task_ended")]
        return ran if len(ran) >= 2 else None
    occ = wait_until("the 2-second cron schedule to fire twice, each task ended", fired, 60, 1)
    ok_json("POST", f"/v1/schedules/{sid}/pause", {"note": "compose-test done"})
    log(f"the 2-second cron schedule fired ({len(occ)} occurrences whose tasks ended), then paused")
    with open(state_file, "w") as f:
        json.dump({"tasks": ids, "schedule": sid}, f)


def kept(state_file: str) -> None:
    st = json.load(open(state_file))
    missing = [t for t in st["tasks"] if http("GET", f"/v1/tasks/{t}")[0] != 200]
    assert not missing, f"{len(missing)} tasks lost over the restart: {missing[:3]}"
    assert http("GET", f"/v1/schedules/{st['schedule']}")[0] == 200, "the schedule was lost over the restart"
    log(f"after stop and start: all {len(st['tasks'])} tasks and the schedule are still there (volumes kept)")


if __name__ == "__main__":
    {"work": work, "kept": kept}[sys.argv[1]](sys.argv[2])
