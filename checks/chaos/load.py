"""Steady mixed load for a chaos run, the way a careful client submits: every submission carries
an Idempotency-Key and is retried with the same key until svc-tasks answers 2xx (or the run
gives up on it), so a reply lost in a crash never becomes a second task."""
import queue
import random
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from stack import http

# In `make up`'s loopback allowlist for http tasks (18200-18299), unused by anything else.
TARGET_PORT = 18251
# Leases are timeout + 10 s grace (svc-executor): a 5 s timeout puts a frozen executor's lease
# out of date after 15 s, inside a run.
TIMEOUT_MS = 5000
KINDS = [("noop", 4), ("sleep", 3), ("fail", 2), ("http", 1)]


def task_spec(kind, rng, run_id):
    labels = {"chaos": run_id, "kind": kind}
    if kind == "noop":
        return {"type": "noop", "labels": labels}
    if kind == "sleep":
        return {"type": "sleep", "payload": {"duration_ms": rng.randint(1000, 3500), "steps": 3},
                "timeout_ms": TIMEOUT_MS, "labels": labels}
    if kind == "fail":  # retried, then failed for good after its third attempt
        return {"type": "fail", "payload": {"message": "chaos: this task always fails"}, "max_attempts": 3,
                "timeout_ms": TIMEOUT_MS, "labels": labels}
    return {"type": "http", "payload": {"url": f"http://127.0.0.1:{TARGET_PORT}/hook", "method": "POST", "body": "{}"},
            "timeout_ms": TIMEOUT_MS, "labels": labels}


def classify(reply):
    """(label, clean): clean answers say "not now, nothing was recorded" in a way a client can act on."""
    if reply.status == 0:
        timed_out = "timeout" in reply.failure.lower()
        return ("timeout" if timed_out else "no answer", not timed_out)
    problem = reply.headers.get("content-type", "").startswith("application/problem+json")
    if reply.status in (503, 429):
        return (f"{reply.status} problem" if problem else f"{reply.status} bare",
                problem and "retry-after" in reply.headers)
    if reply.status == 409:  # the same Idempotency-Key still in flight (P3)
        return ("409 in flight", problem)
    return (f"{reply.status}", False)


class TargetServer:
    """The local endpoint the run's http tasks call."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = b'{"ok":true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", TARGET_PORT), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_):
        self.server.shutdown()
        self.server.server_close()


class Load:
    """Submissions at `rate` per second, plus a reader asking each HTTP service about the run
    twice a second (svc-tasks' task list, svc-notify's overview, svc-scheduler's schedules): its
    answers are judged like the submissions'."""

    def __init__(self, api, key, run_id, seed, rate=8.0, workers=4, read_urls=()):
        self.api, self.key, self.run_id = api, key, run_id
        self.read_urls = list(read_urls)
        self.rng = random.Random(seed)
        self.rate, self.workers = rate, workers
        self.todo = queue.Queue()
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.accepted = {}  # task id -> kind
        self.by_key = {}  # Idempotency-Key -> task ids answered for it
        self.errors = Counter()  # (label, clean) -> count
        self.unclean_samples = []
        self.abandoned = 0
        self.threads = []

    def start(self):
        self.threads = [threading.Thread(target=self._tick, daemon=True)]
        self.threads += [threading.Thread(target=self._work, daemon=True) for _ in range(self.workers)]
        self.threads.append(threading.Thread(target=self._read, daemon=True))
        for thread in self.threads:
            thread.start()

    def stop(self, settle_s=60):
        """Stop submitting; submissions still retrying get up to settle_s to land."""
        self.stopping.set()
        deadline = time.time() + settle_s
        for thread in self.threads:
            thread.join(max(0.1, deadline - time.time()))

    def _tick(self):
        kinds = [k for k, w in KINDS for _ in range(w)]
        interval = 1.0 / self.rate
        next_at = time.time()
        while not self.stopping.is_set():
            kind = self.rng.choice(kinds)
            self.todo.put((str(uuid.uuid4()), kind, task_spec(kind, self.rng, self.run_id)))
            next_at += interval
            self.stopping.wait(max(0.0, next_at - time.time()))
        for _ in range(self.workers):
            self.todo.put(None)

    def _read(self):
        while not self.stopping.wait(0.5):
            for url in self.read_urls:
                reply = http("GET", url, self.key)
                if reply.status != 200:
                    self._count_error(reply, f"GET {url.split('/', 3)[-1]}")

    def _count_error(self, reply, what):
        label, clean = classify(reply)
        with self.lock:
            self.errors[(label, clean)] += 1
            if not clean and len(self.unclean_samples) < 5:
                self.unclean_samples.append(f"{what} {label}: {reply.body[:200]!r} {reply.failure}")

    def _work(self):
        while (item := self.todo.get()) is not None:
            self._submit(*item)

    def _submit(self, idem_key, kind, spec):
        give_up_at = None
        delay = 0.2
        while True:
            reply = http("POST", f"{self.api}/v1/tasks", self.key, spec, {"Idempotency-Key": idem_key})
            if reply.status in (200, 201):
                task_id = reply.json()["id"]
                with self.lock:
                    self.accepted[task_id] = kind
                    self.by_key.setdefault(idem_key, set()).add(task_id)
                return
            self._count_error(reply, "POST /v1/tasks")
            if self.stopping.is_set():
                give_up_at = give_up_at or time.time() + 60
                if time.time() > give_up_at:
                    with self.lock:
                        self.abandoned += 1
                    return
            retry_after = reply.headers.get("retry-after", "")
            time.sleep(min(float(retry_after), 2.0) if retry_after.isdigit() else delay)
            delay = min(delay * 2, 2.0)


def probe(api, key, run_id, timeout_s=300):
    """Seconds until one new no-op task is accepted and completed (submission retried), or None."""
    t0 = time.time()
    idem_key = str(uuid.uuid4())
    task_id = None
    while time.time() - t0 < timeout_s:
        if task_id is None:
            reply = http("POST", f"{api}/v1/tasks", key, {"type": "noop", "labels": {"chaos": run_id, "kind": "probe"}},
                         {"Idempotency-Key": idem_key})
            if reply.status in (200, 201):
                task_id = reply.json()["id"]
        else:
            reply = http("GET", f"{api}/v1/tasks/{task_id}", key)
            if reply.status == 200 and reply.json()["status"] == "completed":
                return time.time() - t0, task_id
        time.sleep(0.1)
    return None, task_id

