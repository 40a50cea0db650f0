// Mirrors migrations/; keep in step with them.

diesel::table! {
    tenants (id) {
        id -> Uuid,
        name -> Text,
        max_active_tasks -> Nullable<Int4>,
        submissions_per_minute -> Nullable<Int4>,
        allowed_priorities -> Nullable<Array<Text>>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        key_hash -> Bytea,
        key_prefix -> Text,
        created_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        announced_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    tenant_usage (tenant_id) {
        tenant_id -> Uuid,
        active_tasks -> Int4,
        window_start -> Timestamptz,
        window_count -> Int4,
    }
}

diesel::table! {
    /// A view of the task log: the outbox rows with a stream position (migration
    /// 2026-12-23-000001_log_is_the_outbox). Appends go to the outbox itself.
    task_events (stream_id, version) {
        stream_id -> Uuid,
        version -> Int4,
        event_id -> Uuid,
        event_type -> Text,
        tenant_id -> Uuid,
        correlation_id -> Text,
        occurred_at -> Timestamptz,
        recorded_at -> Timestamptz,
        body -> Jsonb,
    }
}

diesel::table! {
    tasks (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        task_type -> Text,
        priority -> Text,
        status -> Text,
        payload -> Jsonb,
        labels -> Jsonb,
        max_attempts -> Int4,
        timeout_ms -> Int8,
        attempts -> Int4,
        progress_percent -> Nullable<Int4>,
        progress_message -> Nullable<Text>,
        result -> Nullable<Jsonb>,
        error -> Nullable<Text>,
        idempotency_key -> Nullable<Text>,
        correlation_id -> Text,
        cancel_requested -> Bool,
        next_attempt_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        started_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
        version -> Int4,
        schedule_id -> Nullable<Uuid>,
        fire_time -> Nullable<Timestamptz>,
        run_at -> Nullable<Timestamptz>,
        /// Version at the last change of status, attempts or cancel flag.
        state_version -> Int4,
        /// The transaction that made the last such change: the state relay's position.
        state_tx -> Int8,
    }
}

diesel::table! {
    /// How far the state relay has published: the last (state_tx, task id).
    state_relay_cursor (only_row) {
        only_row -> Bool,
        state_tx -> Int8,
        task_id -> Uuid,
        moved_at -> Timestamptz,
    }
}

diesel::table! {
    idempotency_keys (tenant_id, key) {
        tenant_id -> Uuid,
        key -> Text,
        request_hash -> Bytea,
        task_id -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::allow_tables_to_appear_in_same_query!(tenants, api_keys, tenant_usage);
