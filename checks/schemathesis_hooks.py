"""Schemathesis hooks for checks/schemathesis-check.sh (loaded through SCHEMATHESIS_HOOKS).

They do not touch what is checked, only things the fuzzer cannot know:

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
3. svc-scheduler's schedules (checks/schemathesis-check.sh fuzzes it too) are real as well:
   their tasks are defused as in 1., and their times are moved so that they never fire during
   the run and are never refused for a time the clock makes invalid (see _harmless_schedule).
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


RFC3339 = re.compile(r"^\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)$")


def _is_instant(value):
    """A well-formed RFC 3339 date-time (a leap second counts), as the document's format."""
    if not isinstance(value, str) or not RFC3339.match(value):
        return False
    text = value.upper().replace("Z", "+00:00")
    text = text[:17] + ("59" if text[17:19] == "60" else text[17:19]) + text[19:]
    try:
        datetime.datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _iso(instant):
    return instant.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _harmless_schedule(body, creating):
    """svc-scheduler: a schedule made by the fuzzer must neither fire during the run nor be
    refused for its times, which depend on the clock (an `at` in the past, an `end_at` before
    `start_at`, a window that has ended): every well-formed (or, on creation, absent) `start_at`
    becomes 30 days from now, `end_at` ten years later and `at` a day after `start_at`. Malformed
    values stay, so negative cases stay negative. Its task is defused like a submission's."""
    if not isinstance(body, dict):
        return
    _defuse(body.get("task"))
    start = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=30)
    if (creating and "start_at" not in body) or body.get("start_at", 0) is None or _is_instant(body.get("start_at")):
        body["start_at"] = _iso(start)
    if _is_instant(body.get("end_at")):
        body["end_at"] = _iso(start + datetime.timedelta(days=3650))
    spec = body.get("spec")
    if isinstance(spec, dict) and _is_instant(spec.get("at")):
        spec["at"] = _iso(start + datetime.timedelta(days=1))


def _past_range(body):
    """A well-formed backfill range becomes the hour before last (the schedules start in the
    future, so nothing fires): `to` may not be in the future nor `from` after it."""
    if isinstance(body, dict) and _is_instant(body.get("from")) and _is_instant(body.get("to")):
        now = datetime.datetime.now(datetime.timezone.utc)
        body["from"] = _iso(now - datetime.timedelta(hours=2))
        body["to"] = _iso(now - datetime.timedelta(hours=1))


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.path == "/v1/schedules" and case.method.upper() == "POST":
        _harmless_schedule(case.body, creating=True)
    elif case.path == "/v1/schedules/{id}" and case.method.upper() == "PATCH":
        _harmless_schedule(case.body, creating=False)
    elif case.path == "/v1/schedules/{id}/backfill":
        _past_range(case.body)
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
