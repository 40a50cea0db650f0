"""Schemathesis hooks for deploy/schemathesis-check.sh (loaded through SCHEMATHESIS_HOOKS).

They do not touch what is checked, only two things the fuzzer cannot know:

0. A `run_at` is only accepted from a minute in the past to a year ahead of the server's clock;
   a generated, well-formed one is moved to a few seconds from now (malformed ones stay).
1. The tasks it submits are real: the running svc-executor takes them. So every `http` task
   whose URL is valid is sent to 127.0.0.1:9 (nothing listens; the dev setup allows loopback
   targets) instead of whatever host the fuzzer made up, and `sleep` tasks sleep at most 49 ms
   instead of up to a day. Both rewrites keep a valid payload valid (same scheme, length kept
   or grown to the prefix; a duration still in range) and leave invalid ones untouched, so
   positive cases stay positive and negative ones negative.
2. An Idempotency-Key promises "same key, same request": reusing a key with another body is
   refused (422), which no schema can express. The fuzzer draws short keys ("0", "a") for
   unrelated bodies, and also replays keys it read in responses, which may come from an earlier
   run against the same database. So every valid key is put in this run's namespace (a prefix),
   and one that this run already sent with a different body (or earlier in the same batch) is
   replaced by a fresh valid key. Same key with the same body stays the same key, so replays
   are exercised.
"""

import datetime
import json
import math
import re
import uuid

import schemathesis

KEY = re.compile(r"^[!-~]([ -~]{0,253}[!-~])?$")
URL = re.compile(r"^https?://[^\x00]*$")
SINK = "http://127.0.0.1:9/"
MAX_SLEEP_MS = 86_400_000

RUN = uuid.uuid4().hex[:12]

_bodies_by_key = {}


def _fresh_key(key):
    return f"{key[:200]}-{uuid.uuid4().hex}"


def _claim(key, fingerprint, batch_keys=None):
    """The key to send: `key` in this run's namespace, fresh if it was used for another request."""
    if not isinstance(key, str) or not KEY.match(key):
        return key
    if not key.startswith(RUN + "-"):
        key = f"{RUN}-{key}"[:255].rstrip(" ")
    taken = batch_keys is not None and key in batch_keys
    if taken or _bodies_by_key.setdefault(key, fingerprint) != fingerprint:
        key = _fresh_key(key)
        _bodies_by_key[key] = fingerprint
    if batch_keys is not None:
        batch_keys.add(key)
    return key


def _in_window(task):
    """A well-formed `run_at` is moved into the accepted window (from a minute ago to a year
    ahead, relative to the server's clock), which no schema can express: a few seconds from now.
    Malformed values are left as they are, so negative cases stay negative."""
    if not isinstance(task, dict):
        return
    run_at = task.get("run_at")
    if not isinstance(run_at, str):
        return
    try:
        datetime.datetime.fromisoformat(run_at.replace("Z", "+00:00"))
    except ValueError:
        return
    soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=5)
    task["run_at"] = soon.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _defuse(task):
    """Point valid http tasks at the sink; make valid sleeps short; keep run_at in its window."""
    _in_window(task)
    if not isinstance(task, dict) or not isinstance(task.get("payload"), dict):
        return
    payload = task["payload"]
    if task.get("type") == "http":
        url = payload.get("url")
        if isinstance(url, str) and len(url) <= 2048 and URL.match(url):
            payload["url"] = SINK + url[len(SINK):]
    elif task.get("type") == "sleep":
        duration = payload.get("duration_ms")
        # JSON's 5.0 is the integer 5 (the server takes it as such).
        whole = isinstance(duration, (int, float)) and not isinstance(duration, bool)
        whole = whole and math.isfinite(duration) and duration == int(duration)
        if whole and 0 <= duration <= MAX_SLEEP_MS:
            payload["duration_ms"] = int(duration) % 50


def _fingerprint(value):
    return json.dumps(value, sort_keys=True, default=str)


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.method.upper() != "POST":
        return
    if case.path == "/v1/tasks":
        _defuse(case.body)
        headers = case.headers or {}
        for name in list(headers):
            if name.lower() == "idempotency-key":
                headers[name] = _claim(headers[name], _fingerprint(case.body))
    elif case.path == "/v1/tasks:batch":
        body = case.body
        tasks = body.get("tasks") if isinstance(body, dict) else None
        if not isinstance(tasks, list):
            return
        batch_keys = set()
        for item in tasks:
            _defuse(item)
            if isinstance(item, dict) and "idempotency_key" in item:
                rest = {k: v for k, v in item.items() if k != "idempotency_key"}
                item["idempotency_key"] = _claim(item["idempotency_key"], _fingerprint(rest), batch_keys)
