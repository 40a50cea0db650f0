// Mirrors migrations/; keep in step with them. The outbox and the inbox (`consumed_events`) are
// the platform's tables: taskflow_platform::outbox and taskflow_platform::inbox declare them.

diesel::table! {
    /// The durable work queue (and the retry timers): one row per task.
    executions (task_id) {
        task_id -> Uuid,
        tenant_id -> Uuid,
        task_type -> Text,
        /// 0 low .. 3 critical.
        priority -> Int2,
        payload -> Jsonb,
        max_attempts -> Int4,
        timeout_ms -> Int8,
        correlation_id -> Text,
        created_event_id -> Uuid,
        /// The TaskCreated as received, parked as a dead letter if the task fails for good.
        created_event -> Jsonb,
        /// `domain::ExecutionState` as text.
        state -> Text,
        attempt -> Int4,
        due_at -> Timestamptz,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamptz>,
        cancel_requested -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        traceparent -> Nullable<Text>,
        tracestate -> Nullable<Text>,
    }
}

diesel::table! {
    /// When each tenant last got a slot (fairness within a priority).
    tenant_turns (tenant_id) {
        tenant_id -> Uuid,
        last_claimed_at -> Timestamptz,
    }
}

diesel::table! {
    /// Attempts that ended without an event in the log (lost, released).
    attempt_interruptions (task_id, attempt) {
        task_id -> Uuid,
        attempt -> Int4,
        /// `domain::AttemptOutcome` as text: lost or released.
        outcome -> Text,
        error -> Nullable<Text>,
        at -> Timestamptz,
    }
}

diesel::table! {
    /// Attempts logged before the event log told them (migration `attempts_from_the_log`).
    attempts_before_log (task_id, attempt) {
        task_id -> Uuid,
        attempt -> Int4,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    executions,
    tenant_turns,
    attempt_interruptions,
    attempts_before_log
);
