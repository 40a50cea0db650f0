//! Diesel's view of svc-scheduler's tables (migrations/ is the source of truth).

diesel::table! {
    schedules (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        name -> Text,
        definition -> Jsonb,
        paused -> Bool,
        anchor -> Timestamptz,
        next_nominal -> Nullable<Timestamptz>,
        next_fire_at -> Nullable<Timestamptz>,
        waiting_for_task -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    occurrences (schedule_id, nominal_time) {
        schedule_id -> Uuid,
        nominal_time -> Timestamptz,
        outcome -> Text,
        reason -> Nullable<Text>,
        task_id -> Nullable<Uuid>,
        task_ended -> Bool,
        fired_at -> Timestamptz,
    }
}

diesel::table! {
    run_endings (task_id) {
        task_id -> Uuid,
        refused -> Nullable<Text>,
        recorded_at -> Timestamptz,
    }
}

diesel::joinable!(occurrences -> schedules (schedule_id));
diesel::allow_tables_to_appear_in_same_query!(schedules, occurrences, run_endings);
