"""The promises of ../shared/reliability.md, checked on what a chaos run left behind (Facts,
gathered by reconcile.py from the topics and the databases). Pure: no I/O, unit-tested in
test_judge.py."""
from collections import Counter, defaultdict
from dataclasses import dataclass, field

REQUESTS = "taskflow.tasks.requests.v1"
LIFECYCLE = "taskflow.execution.lifecycle.v1"
TRIGGERS = "taskflow.scheduler.triggers.v1"
TOPIC_OF = {"TaskCreated": REQUESTS, "TaskCancelRequested": REQUESTS, "ScheduledTaskRefused": REQUESTS,
            "TaskStarted": LIFECYCLE, "TaskProgressUpdated": LIFECYCLE, "TaskCompleted": LIFECYCLE,
            "TaskFailed": LIFECYCLE, "TaskCancelled": LIFECYCLE,
            "ScheduledTaskTriggered": TRIGGERS, "ScheduleOccurrenceSkipped": TRIGGERS}
TERMINAL_STATUS = {"completed", "failed", "cancelled"}


def is_ending(event_type, record):
    return event_type in ("TaskCompleted", "TaskCancelled") or (event_type == "TaskFailed" and record["final"])


def ending_status(event_type):
    return {"TaskCompleted": "completed", "TaskCancelled": "cancelled", "TaskFailed": "failed"}[event_type]


@dataclass
class Verdict:
    tasks: int = 0
    lost: int = 0  # accepted, yet svc-tasks or the requests topic never had it
    doubled: int = 0  # a second task for one Idempotency-Key, a second ending, a second trigger
    stuck: int = 0  # known but not ended
    events_lost: int = 0  # in a service's outbox, never on its topic
    order: int = 0  # a task's events out of commit order on a topic (P7)
    retries: int = 0  # attempts not counted right
    projection: int = 0  # a database disagrees with the topic's ending
    triggers: int = 0  # the run's schedule's triggers on the topic (information)
    taken_over: int = 0  # attempts lost with their executor and run again (information)
    details: list = field(default_factory=list)

    def flag(self, kind, detail, n=1):
        setattr(self, kind, getattr(self, kind) + n)
        if len(self.details) < 30:
            self.details.append(f"{kind}: {detail}")

    def violations(self):
        return self.lost + self.doubled + self.stuck + self.events_lost + self.order + self.retries + self.projection


@dataclass
class Facts:
    """What a run left behind, as read from the topics and the databases."""
    records: list  # read_topics
    tasks: dict  # task id -> (status, attempts, max_attempts, idempotency key), svc-tasks
    tasks_outbox: list  # (event id, event type), svc-tasks
    executor_outbox: list  # (event id, event type, task id, final), svc-executor
    executions: dict  # task id -> (state, attempt), svc-executor
    notified_endings: Counter  # task id -> endings in svc-notify's history
    scheduler_outbox: list  # (event id, event type), svc-scheduler
    taken_over: int = 0  # attempts svc-executor recorded as lost (lease expired, run again): information
    released: Counter = field(default_factory=Counter)  # task id -> attempts given back on SIGTERM (they do not count)


def judge(facts, accepted, by_key, schedule_id):
    """The promises, checked on what was gathered (pure: no I/O)."""
    verdict = Verdict(taken_over=facts.taken_over)
    records, tasks, tasks_outbox = facts.records, facts.tasks, facts.tasks_outbox
    executor_outbox, executions = facts.executor_outbox, facts.executions
    notified_endings, scheduler_outbox = facts.notified_endings, facts.scheduler_outbox
    verdict.tasks = len(tasks)

    # P3: one task per Idempotency-Key, whatever the retries.
    for key, ids in by_key.items():
        if len(ids) > 1:
            verdict.flag("doubled", f"Idempotency-Key {key} answered with {len(ids)} tasks")

    # Events on the topics, first copy of each event id (a re-published copy is allowed: P2).
    seen, per_task, created, triggers = set(), defaultdict(list), set(), defaultdict(set)
    for topic, _, _, event_type, record in records:
        event_id = str(record["event_id"])
        if event_id in seen:
            continue
        seen.add(event_id)
        if event_type == "TaskCreated":
            created.add(str(record["task_id"]))
        elif topic == LIFECYCLE:
            per_task[str(record["task_id"])].append((event_type, record))
        elif event_type == "ScheduledTaskTriggered":
            triggers[(str(record["schedule_id"]), record["fire_time"])].add(event_id)

    # No event lost between a service's log (its outbox) and its topic.
    for service, rows in (("svc-tasks", tasks_outbox), ("svc-executor", [r[:2] for r in executor_outbox]),
                          ("svc-scheduler", scheduler_outbox)):
        for event_id, event_type in rows:
            if event_type in TOPIC_OF and event_id not in seen:
                verdict.flag("events_lost", f"{service} {event_type} {event_id} is in the outbox, not on {TOPIC_OF[event_type]}")

    # P1: every accepted task is known to svc-tasks and was announced on the requests topic.
    for task_id in accepted:
        if task_id not in tasks:
            verdict.flag("lost", f"accepted task {task_id} is not in svc-tasks")
    for task_id in tasks:
        if task_id not in created:
            verdict.flag("lost", f"task {task_id} has no TaskCreated on {REQUESTS}")

    executor_endings = Counter(task_id for _, event_type, task_id, final in executor_outbox
                               if event_type in ("TaskCompleted", "TaskCancelled") or (event_type == "TaskFailed" and final))
    for task_id, (status, attempts, max_attempts, _) in tasks.items():
        events = per_task.get(task_id, [])
        endings = [(t, r) for t, r in events if is_ending(t, r)]
        if status not in TERMINAL_STATUS:
            verdict.flag("stuck", f"task {task_id} is still {status} in svc-tasks")
            continue
        # P2: one ending, on the topic, in the executor's log and in the notification history.
        if len(endings) != 1:
            kind = "doubled" if len(endings) > 1 else "events_lost"
            verdict.flag(kind, f"task {task_id} has {len(endings)} endings on {LIFECYCLE}")
            if not endings:
                continue
        if executor_endings.get(task_id, 0) > 1:
            verdict.flag("doubled", f"task {task_id} has {executor_endings[task_id]} endings in svc-executor's log")
        if notified_endings.get(task_id, 0) != 1:
            verdict.flag("projection", f"task {task_id} has {notified_endings.get(task_id, 0)} endings in svc-notify's history")
        ending_type, ending = endings[0]
        if ending_status(ending_type) != status:
            verdict.flag("projection", f"task {task_id}: svc-tasks says {status}, the topic {ending_type}")
        execution = executions.get(task_id)
        if execution is None or execution[0] != status:
            verdict.flag("projection", f"task {task_id}: svc-executor says {execution}, svc-tasks {status}")
        # P7: in topic order, attempts never go back and nothing new follows the ending.
        last_attempt, ended = 0, False
        for event_type, record in events:
            attempt = record.get("attempt") or 0
            if ended or attempt < last_attempt:
                verdict.flag("order", f"task {task_id}: {event_type} attempt {attempt} after "
                             f"{'its ending' if ended else f'attempt {last_attempt}'}")
                break
            last_attempt, ended = attempt, is_ending(event_type, record)
        # Retries counted right: attempts 1..k started once each, the ending is attempt k <= max.
        started = [r["attempt"] for t, r in events if t == "TaskStarted"]
        k = len(started)
        if started != list(range(1, k + 1)) or ending.get("attempt", k) not in (k, 0) or k > max_attempts + facts.released.get(task_id, 0) or attempts != k:
            verdict.flag("retries", f"task {task_id}: started attempts {started}, ending attempt {ending.get('attempt')}, "
                         f"svc-tasks counts {attempts} of {max_attempts}")

    # P5: one trigger per (schedule, fire time).
    for (sched, fire_time), ids in triggers.items():
        if len(ids) > 1:
            verdict.flag("doubled", f"schedule {sched} fired {len(ids)} times for {fire_time}")
    verdict.triggers = sum(1 for (sched, _) in triggers if sched == schedule_id)
    return verdict
