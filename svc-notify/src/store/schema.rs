//! Diesel's view of svc-notify's tables (migrations/ is the source of truth).

diesel::table! {
    tenant_feeds (tenant_id) {
        tenant_id -> Uuid,
        last_seq -> Int8,
        pruned_through -> Int8,
    }
}

diesel::table! {
    notifications (tenant_id, seq) {
        tenant_id -> Uuid,
        seq -> Int8,
        event_id -> Uuid,
        task_id -> Uuid,
        event_type -> Text,
        status -> Text,
        previous_status -> Nullable<Text>,
        task_type -> Nullable<Text>,
        priority -> Nullable<Text>,
        labels -> Jsonb,
        percent -> Nullable<Int4>,
        message -> Nullable<Text>,
        attempt -> Nullable<Int4>,
        error -> Nullable<Text>,
        result_summary -> Nullable<Text>,
        occurred_at -> Timestamptz,
        recorded_at -> Timestamptz,
    }
}

diesel::table! {
    tasks (task_id) {
        task_id -> Uuid,
        tenant_id -> Uuid,
        task_type -> Nullable<Text>,
        priority -> Nullable<Text>,
        labels -> Jsonb,
        status -> Text,
        percent -> Nullable<Int4>,
        message -> Nullable<Text>,
        attempt -> Int4,
        error -> Nullable<Text>,
        cancel_requested -> Bool,
        created_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
        last_seq -> Int8,
    }
}

diesel::table! {
    status_counts (tenant_id, status) {
        tenant_id -> Uuid,
        status -> Text,
        n -> Int8,
    }
}

diesel::table! {
    token_secret (id) {
        id -> Bool,
        secret -> Bytea,
    }
}

diesel::table! {
    held_events (held_seq) {
        held_seq -> Int8,
        task_id -> Uuid,
        event_type -> Text,
        body -> Jsonb,
        held_at -> Timestamptz,
    }
}
