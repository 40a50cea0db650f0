"""The chaos reconciliation must notice each broken promise: a healthy run passes, and each way a
run can break one is flagged under its name. Run: python3 -m unittest discover checks/chaos"""
import sys
import unittest
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from judge import LIFECYCLE, REQUESTS, TRIGGERS, Facts, judge  # noqa: E402

T, KEY = "task-1", "key-1"


def event(topic, event_type, event_id, **fields):
    return (topic, 0, 0, event_type, {"event_id": event_id, "task_id": T, **fields})


def healthy():
    records = [
        event(REQUESTS, "TaskCreated", "e-created"),
        event(LIFECYCLE, "TaskStarted", "e-start-1", attempt=1),
        event(LIFECYCLE, "TaskFailed", "e-fail-1", attempt=1, final=False),
        event(LIFECYCLE, "TaskStarted", "e-start-2", attempt=2),
        event(LIFECYCLE, "TaskProgressUpdated", "e-progress-2", attempt=2),
        event(LIFECYCLE, "TaskCompleted", "e-done-2", attempt=2),
        event(TRIGGERS, "ScheduledTaskTriggered", "e-trigger", schedule_id="s", fire_time=1),
    ]
    return Facts(
        records=records,
        tasks={T: ("completed", 2, 3, KEY)},
        tasks_outbox=[("e-created", "TaskCreated")],
        executor_outbox=[("e-start-1", "TaskStarted", T, None), ("e-fail-1", "TaskFailed", T, False),
                         ("e-start-2", "TaskStarted", T, None), ("e-progress-2", "TaskProgressUpdated", T, None),
                         ("e-done-2", "TaskCompleted", T, None)],
        executions={T: ("completed", 2)},
        notified_endings=Counter({T: 1}),
        scheduler_outbox=[("e-trigger", "ScheduledTaskTriggered")],
    )


def verdict_of(facts, accepted=(T,), by_key=None):
    return judge(facts, set(accepted), by_key or {KEY: {T}}, "s")


class Judge(unittest.TestCase):
    def assertFlagged(self, verdict, kind):
        self.assertGreater(getattr(verdict, kind), 0, verdict.details)

    def test_a_healthy_run_keeps_every_promise(self):
        verdict = verdict_of(healthy())
        self.assertEqual(verdict.violations(), 0, verdict.details)

    def test_a_republished_copy_with_the_same_event_id_is_allowed(self):
        facts = healthy()
        facts.records.append(event(LIFECYCLE, "TaskCompleted", "e-done-2", attempt=2))
        self.assertEqual(verdict_of(facts).violations(), 0)

    def test_an_accepted_task_svc_tasks_does_not_know_is_lost(self):
        self.assertFlagged(verdict_of(healthy(), accepted=(T, "task-2")), "lost")

    def test_a_task_without_its_created_event_on_the_topic_is_lost(self):
        facts = healthy()
        facts.records.pop(0)
        self.assertFlagged(verdict_of(facts), "lost")

    def test_a_second_ending_is_doubled(self):
        facts = healthy()
        facts.records.append(event(LIFECYCLE, "TaskCompleted", "e-done-again", attempt=2))
        self.assertFlagged(verdict_of(facts), "doubled")

    def test_two_tasks_for_one_idempotency_key_are_doubled(self):
        self.assertFlagged(verdict_of(healthy(), by_key={KEY: {T, "task-2"}}), "doubled")

    def test_two_triggers_for_one_instant_are_doubled(self):
        facts = healthy()
        facts.records.append(event(TRIGGERS, "ScheduledTaskTriggered", "e-trigger-2", schedule_id="s", fire_time=1))
        self.assertFlagged(verdict_of(facts), "doubled")

    def test_a_task_that_never_ended_is_stuck(self):
        facts = healthy()
        facts.tasks[T] = ("running", 2, 3, KEY)
        self.assertFlagged(verdict_of(facts), "stuck")

    def test_an_outbox_event_missing_from_its_topic_is_an_event_lost(self):
        facts = healthy()
        facts.records = [r for r in facts.records if r[4]["event_id"] != "e-progress-2"]
        self.assertFlagged(verdict_of(facts), "events_lost")

    def test_an_ending_missing_from_the_topic_is_noticed(self):
        facts = healthy()
        facts.records = [r for r in facts.records if r[4]["event_id"] != "e-done-2"]
        self.assertFlagged(verdict_of(facts), "events_lost")

    def test_an_event_after_the_ending_breaks_order(self):
        facts = healthy()
        facts.records.append(event(LIFECYCLE, "TaskProgressUpdated", "e-late", attempt=2))
        self.assertFlagged(verdict_of(facts), "order")

    def test_an_older_attempt_after_a_newer_one_breaks_order(self):
        facts = healthy()
        facts.records.insert(5, event(LIFECYCLE, "TaskProgressUpdated", "e-stale", attempt=1))
        self.assertFlagged(verdict_of(facts), "order")

    def test_a_skipped_attempt_number_is_a_retry_miscount(self):
        facts = healthy()
        facts.records[3] = event(LIFECYCLE, "TaskStarted", "e-start-2", attempt=3)
        self.assertFlagged(verdict_of(facts), "retries")

    def test_a_released_attempt_does_not_count_against_max_attempts(self):
        facts = healthy()
        facts.tasks[T] = ("completed", 2, 1, KEY)
        self.assertFlagged(verdict_of(facts), "retries")
        facts.released = Counter({T: 1})
        self.assertEqual(verdict_of(facts).violations(), 0)

    def test_svc_tasks_counting_other_attempts_is_a_retry_miscount(self):
        facts = healthy()
        facts.tasks[T] = ("completed", 3, 3, KEY)
        self.assertFlagged(verdict_of(facts), "retries")

    def test_a_projection_that_disagrees_with_the_topic_is_flagged(self):
        facts = healthy()
        facts.tasks[T] = ("failed", 2, 3, KEY)
        self.assertFlagged(verdict_of(facts), "projection")

    def test_an_ending_missing_from_the_notification_history_is_flagged(self):
        facts = healthy()
        facts.notified_endings = Counter()
        self.assertFlagged(verdict_of(facts), "projection")


if __name__ == "__main__":
    unittest.main()
