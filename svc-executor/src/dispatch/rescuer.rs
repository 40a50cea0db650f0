//! Taking over a dead executor's attempt. An instance that dies or stalls keeps its leases, and
//! nothing tells the others; its executions are taken over when their lease runs out. There is
//! no separate sweep for it: every claim is also the rescue.
//!
//! 1. The claim statement (`store::claim`, the `running AND lease_until < now()` branch of its
//!    `ready` set) leases an expired running execution like due queued work, judged by the
//!    database's clock; its attempt number moves on, its lease owner becomes the claimer.
//! 2. In the claim's transaction, [`end_lost_attempts`] records the dead instance's attempt as
//!    `lost` ("lease expired"): its ending has no event in the log.
//! 3. When the attempt lost was the task's last allowed one, the attempt taken over runs no
//!    handler: [`exhausted`] ends it as a permanent failure, so the task fails for good with a
//!    dead letter instead of getting an attempt it was not granted.
//!
//! A stalled instance that wakes up later finds its lease gone: the completer's guarded update
//! records nothing for it (`store::finish_all`), and its progress reports are dropped.

use crate::domain::HandlerError;
use crate::domain::outcome::AttemptResult;
use crate::store::{self, Claimed, Conn, StoreError};

/// Ends, as lost, the attempts that `claimed` took over from a dead instance: the attempt
/// before each one claimed from a running execution whose lease expired.
pub(super) async fn end_lost_attempts(
    conn: &mut Conn,
    claimed: &[Claimed],
) -> Result<(), StoreError> {
    let retaken: Vec<_> = claimed
        .iter()
        .filter(|task| task.taken_over)
        .map(|task| (task.task_id, task.attempt))
        .collect();
    store::end_lost_attempts(conn, &retaken).await
}

/// The end of an attempt taken over when the lost one was the last allowed: a permanent
/// failure, without running the handler. `None`: the attempt runs.
pub(super) fn exhausted(task: &Claimed) -> Option<AttemptResult> {
    (task.attempt > task.max_attempts).then(|| {
        AttemptResult::Failed(HandlerError::Permanent(format!(
            "attempts exhausted: attempt {} was lost with its executor",
            task.attempt - 1
        )))
    })
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn claimed(attempt: i32, max_attempts: i32) -> Claimed {
        Claimed {
            task_id: Uuid::now_v7(),
            tenant_id: Uuid::now_v7(),
            task_type: "noop".into(),
            priority: 0,
            payload: serde_json::Value::Null,
            max_attempts,
            timeout_ms: 1_000,
            correlation_id: "unit".into(),
            created_event_id: Uuid::now_v7(),
            attempt,
            taken_over: attempt > 1,
            traceparent: None,
            tracestate: None,
        }
    }

    #[test]
    fn an_attempt_taken_over_past_the_last_allowed_fails_for_good_without_running() {
        assert_eq!(
            exhausted(&claimed(4, 3)),
            Some(AttemptResult::Failed(HandlerError::Permanent(
                "attempts exhausted: attempt 3 was lost with its executor".into()
            )))
        );
        assert_eq!(exhausted(&claimed(3, 3)), None, "the last allowed runs");
        assert_eq!(exhausted(&claimed(1, 1)), None);
    }
}
