"""The analytics check's Python side (checks/analytics-check.sh runs it):

    analytics_check.py tasks RUN                 the batch to submit, as JSON, on stdout
    analytics_check.py wait SUBMITTED            polls GET /v1/tasks/{id} until every task ended
    analytics_check.py verify RUN WORKDIR SECS   runs docs/analytics.sql over what the tap and
                                                 the stock client read, and checks the numbers
"""
import json
import os
import pathlib
import re
import sys
import time
import urllib.request

import duckdb

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
NOOPS = 3
SLEEPS_MS = [50, 100, 150]
ENDED = {"completed", "failed", "cancelled"}


def fail(message):
    sys.exit(f"analytics-check: FAILED: {message}")


def tasks(run):
    labels = {"run": run}
    items = [{"type": "noop", "labels": labels} for _ in range(NOOPS)]
    items += [{"type": "sleep", "payload": {"duration_ms": ms}, "labels": labels} for ms in SLEEPS_MS]
    items.append({"type": "fail", "payload": {"message": "analytics check", "retryable": False},
                  "max_attempts": 1, "labels": labels})
    print(json.dumps({"tasks": items}))


def get(path):
    request = urllib.request.Request(
        os.environ["TASKFLOW_API_URL"] + path,
        headers={"Authorization": f"Bearer {os.environ['TASKFLOW_API_KEY']}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def wait(submitted_path):
    ids = [t["id"] for t in json.load(open(submitted_path))["tasks"]]
    deadline = time.monotonic() + 60
    pause = 0.05
    while True:
        status = {i: get(f"/v1/tasks/{i}")["status"] for i in ids}
        if all(s in ENDED for s in status.values()):
            return
        if time.monotonic() > deadline:
            fail(f"tasks not ended after 60 s: {status}")
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


def statements(path):
    """(name, sql) for each statement of a file; the name is the first word of its comment."""
    for text in path.read_text().split(";\n"):
        if text.strip():
            name = re.match(r"\s*-- (\w+)", text)
            yield (name.group(1) if name else None), text


def analyse(db, run):
    """docs/analytics.sql over `events`, the tasks table kept to this run before the queries."""
    results = {}
    for name, sql in statements(DOCS / "analytics.sql"):
        if name in ("statuses", "durations"):
            cursor = db.execute(sql)
            columns = [c[0] for c in cursor.description]
            results[name] = [dict(zip(columns, row)) for row in cursor.fetchall()]
        else:
            db.execute(sql)
            if name == "tasks":
                db.execute("DELETE FROM tasks WHERE labels ->> 'run' IS DISTINCT FROM ?", [run])
    results["tasks"] = {
        row[0]: {"type": row[1], "status": row[2], "attempts": row[3], "run_ms": row[4],
                 "total_ms": row[5]}
        for row in db.execute("""SELECT task_id, task_type, status, attempts, run_ms,
                                        date_diff('millisecond', created_at, ended_at)
                                 FROM tasks""").fetchall()}
    return results


def expect(source, results, submitted):
    statuses = {(r["task_type"], r["status"]): r["tasks"] for r in results["statuses"]}
    wanted = {("noop", "completed"): NOOPS, ("sleep", "completed"): len(SLEEPS_MS),
              ("fail", "failed"): 1}
    if statuses != wanted:
        fail(f"{source}: tasks per type and status {statuses}, submitted {wanted}")
    durations = {r["task_type"]: r for r in results["durations"]}
    if sorted(durations) != ["noop", "sleep"] or durations["noop"]["completed"] != NOOPS:
        fail(f"{source}: durations {results['durations']}")
    sleep = durations["sleep"]
    if not (sleep["completed"] == len(SLEEPS_MS) and sleep["run_p50_ms"] >= sorted(SLEEPS_MS)[1]
            and sleep["run_max_ms"] >= max(SLEEPS_MS) and sleep["total_p50_ms"] >= sleep["run_p50_ms"]):
        fail(f"{source}: sleep durations {sleep} for sleeps of {SLEEPS_MS} ms")
    by_id = results["tasks"]
    for task in submitted:
        row = by_id.get(task["id"])
        if row is None:
            fail(f"{source}: task {task['id']} ({task['type']}) missing")
        if row["status"] != task["status"] or row["attempts"] != task["attempts"]:
            fail(f"{source}: task {task['id']} is {row}, the API says {task['status']} "
                 f"after {task['attempts']} attempt(s)")
        if task["type"] == "sleep" and row["run_ms"] < task["payload"]["duration_ms"]:
            fail(f"{source}: sleep of {task['payload']['duration_ms']} ms ran {row['run_ms']} ms")
        if row["run_ms"] is not None and row["total_ms"] < row["run_ms"]:
            fail(f"{source}: task {task['id']} took {row['total_ms']} ms in all but ran {row['run_ms']} ms")


def verify(run, work, seconds):
    work = pathlib.Path(work)
    # docs/analytics.md shows the SQL files as they are: the queries checked are the ones shown.
    page = (DOCS / "analytics.md").read_text()
    for name in ("analytics-tap.sql", "analytics.sql"):
        if (DOCS / name).read_text().strip() not in page:
            fail(f"docs/analytics.md does not show docs/{name} as it is")
    ids = [t["id"] for t in json.load(open(work / "submitted.json"))["tasks"]]
    submitted = [get(f"/v1/tasks/{i}") for i in ids]

    # 1. The tap: events.jsonl into DuckDB with docs/analytics-tap.sql (it reads ./events.jsonl).
    os.chdir(work)
    tap_db = duckdb.connect()
    for _, sql in statements(DOCS / "analytics-tap.sql"):
        tap_db.execute(sql)
    unreadable = tap_db.execute("SELECT count(*) FROM events WHERE event IS NULL").fetchone()[0]
    if unreadable:
        fail(f"tap: {unreadable} records it could not decode")
    tap = analyse(tap_db, run)
    expect("tap", tap, submitted)

    # 2. The stock client: analytics_kafka.py wrote `events` into kafka.duckdb.
    kafka_db = duckdb.connect(str(work / "kafka.duckdb"))
    kafka = analyse(kafka_db, run)
    expect("confluent-kafka", kafka, submitted)
    for name in ("statuses", "durations", "tasks"):
        if tap[name] != kafka[name]:
            fail(f"the tap and confluent-kafka disagree on {name}: {tap[name]} vs {kafka[name]}")

    # A group's second read continues where the first stopped: nothing it read before comes
    # again (events written meanwhile, e.g. a task's state record a moment later, may follow).
    def event_ids(lines):
        return {(line.get("event") or {}).get("event_id") for line in lines} - {None}
    first = event_ids(json.loads(line) for line in open(work / "events.jsonl"))
    again = event_ids(json.loads(line) for line in open(work / "events-again.jsonl"))
    if first & again:
        fail(f"tap: the group's second read returned {len(first & again)} events of its first again")
    query = "SELECT event ->> 'event_id' FROM events"
    first = {r[0] for r in kafka_db.execute(query).fetchall()}
    again = {r[0] for r in duckdb.connect(str(work / "kafka-again.duckdb")).execute(query).fetchall()}
    if first & again:
        fail(f"confluent-kafka: the group's second read returned {len(first & again)} events of its first again")

    events = tap_db.execute("SELECT count(*) FROM task_events WHERE task_id IN (SELECT unnest(?))",
                            [ids]).fetchone()[0]
    sleep = {r["task_type"]: r for r in tap["durations"]}["sleep"]
    print(f"analytics-check: passed in {seconds} s: the tap and confluent-kafka each gave "
          f"{events} events of {len(ids)} tasks -> noop 3 completed, sleep 3 completed "
          f"(run p50 {sleep['run_p50_ms']:.0f} ms, max {sleep['run_max_ms']} ms), fail 1 failed; "
          f"docs/analytics.sql rows identical; both groups resumed without repeats")


if __name__ == "__main__":
    command, *rest = sys.argv[1:]
    {"tasks": tasks, "wait": wait, "verify": verify}[command](*rest)
