//! The command line as clap reads it. Connection settings are global flags backed by the same
//! environment variables `.taskflow/dev.env` exports; what neither gives comes from the profile
//! file (`config.rs`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use uuid::Uuid;

#[derive(Debug, Parser)]
#[command(
    name = "taskflow",
    version,
    about = "TaskFlow from a terminal: submit and watch tasks, schedules, tenants, dead letters, topic taps",
    after_help = "Exit codes: 0 ok, 1 failed or refused (or a watched task did not complete), 2 usage.\n\
                  Settings: flags, then environment (source .taskflow/dev.env), then ~/.config/taskflow/config.toml."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// svc-tasks base URL.
    #[arg(long, global = true, env = "TASKFLOW_API_URL", hide_env_values = true)]
    pub api_url: Option<String>,
    /// A tenant's API key.
    #[arg(long, global = true, env = "TASKFLOW_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// The admin token (tenants, dead-letter replay).
    #[arg(
        long,
        global = true,
        env = "TASKFLOW_ADMIN_TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<String>,
    /// svc-notify base URL (live streams).
    #[arg(
        long,
        global = true,
        env = "TASKFLOW_NOTIFY_URL",
        hide_env_values = true
    )]
    pub notify_url: Option<String>,
    /// svc-scheduler base URL.
    #[arg(
        long,
        global = true,
        env = "TASKFLOW_SCHEDULER_URL",
        hide_env_values = true
    )]
    pub scheduler_url: Option<String>,
    /// Kafka bootstrap servers (tap, dlq).
    #[arg(
        long,
        global = true,
        env = "KAFKA_BOOTSTRAP_SERVERS",
        hide_env_values = true
    )]
    pub kafka: Option<String>,
    /// Confluent-compatible schema registry base URL (tap, dlq).
    #[arg(
        long,
        global = true,
        env = "SCHEMA_REGISTRY_URL",
        hide_env_values = true
    )]
    pub registry: Option<String>,
    /// Prefix of every topic name (a deployment's TASKFLOW_TOPIC_PREFIX).
    #[arg(
        long,
        global = true,
        env = "TASKFLOW_TOPIC_PREFIX",
        hide_env_values = true
    )]
    pub topic_prefix: Option<String>,
    /// Profile file (default: $XDG_CONFIG_HOME/taskflow/config.toml or ~/.config/taskflow/config.toml).
    #[arg(long, global = true, env = "TASKFLOW_CONFIG")]
    pub config: Option<PathBuf>,
    /// A `[profiles.NAME]` section of the profile file, over its top-level settings.
    #[arg(long, global = true, env = "TASKFLOW_PROFILE")]
    pub profile: Option<String>,
    /// `table` for people, `json` for scripts (stable: API bodies as served, JSON lines for
    /// streams). Default: table, except `tap`, which prints JSON lines.
    #[arg(long, short = 'o', global = true, value_enum)]
    pub output: Option<Output>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Submit one task, or a file of them (`--batch tasks.ndjson`).
    Submit(SubmitArgs),
    /// A task's live state.
    Get { id: Uuid },
    /// The tenant's tasks, newest first.
    List(ListArgs),
    /// A task's event history.
    Events { id: Uuid },
    /// Ask for a task to be cancelled.
    Cancel {
        id: Uuid,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Follow a task (or all of the tenant's) live from svc-notify; exits 1 unless it completed.
    Watch(WatchArgs),
    /// Schedules on svc-scheduler.
    #[command(subcommand)]
    Schedules(ScheduleCommand),
    /// Tenants and their API keys (admin token).
    #[command(subcommand)]
    Tenants(TenantCommand),
    /// Dead letters on `taskflow.deadletter.<group>.v1`: read them, replay tasks.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Read topics as JSON lines, decoded through the schema registry.
    Tap(TapArgs),
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// Task type: http, sleep, noop, fail.
    #[arg(required_unless_present = "batch", conflicts_with = "batch")]
    pub task_type: Option<String>,
    /// Payload as JSON text, or @file.
    #[arg(long, short = 'p', conflicts_with = "batch")]
    pub payload: Option<String>,
    /// low, normal, high, critical.
    #[arg(long, conflicts_with = "batch")]
    pub priority: Option<String>,
    #[arg(long, conflicts_with = "batch")]
    pub max_attempts: Option<i32>,
    /// Per-attempt timeout: milliseconds, or with a unit (500ms, 30s, 2m, 1h).
    #[arg(long, conflicts_with = "batch")]
    pub timeout: Option<String>,
    /// key=value, repeatable.
    #[arg(long = "label", short = 'l', conflicts_with = "batch")]
    pub labels: Vec<String>,
    /// Same key and body: the same task again. With --batch: a prefix, each line gets `<key>-<line>`.
    #[arg(long)]
    pub idempotency_key: Option<String>,
    /// Run at this RFC 3339 time.
    #[arg(long, conflicts_with_all = ["delay", "batch"])]
    pub run_at: Option<String>,
    /// Run after this long (500ms, 30s, 2m, 1h).
    #[arg(long, conflicts_with = "batch")]
    pub delay: Option<String>,
    /// Follow the task until it ends (as `watch`).
    #[arg(long, conflicts_with = "batch")]
    pub wait: bool,
    /// A file with one task per line (JSON objects as in POST /v1/tasks:batch items); `-` reads stdin.
    #[arg(long)]
    pub batch: Option<PathBuf>,
    /// Tasks per request with --batch (1..=1000); each request is all or nothing.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub batch_size: u16,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// scheduled, pending, running, retrying, completed, failed, cancelled.
    #[arg(long)]
    pub status: Option<String>,
    #[arg(long = "type")]
    pub task_type: Option<String>,
    #[arg(long)]
    pub priority: Option<String>,
    /// Created after this RFC 3339 time.
    #[arg(long)]
    pub created_after: Option<String>,
    /// 1..=500.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// next_cursor of a previous page.
    #[arg(long)]
    pub cursor: Option<String>,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The task to follow to its end.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub id: Option<Uuid>,
    /// Every task of the tenant, until interrupted.
    #[arg(long)]
    pub all: bool,
    /// With --all: only this task type.
    #[arg(long = "type", requires = "all")]
    pub task_type: Option<String>,
    /// With --all: only tasks in this status.
    #[arg(long, requires = "all")]
    pub status: Option<String>,
    /// With --all: key=value, repeatable, all must match.
    #[arg(long = "label", requires = "all")]
    pub labels: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Create a schedule: from a definition (`--definition JSON|@file`) or from flags.
    Create(Box<ScheduleCreateArgs>),
    List {
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// next_after of a previous page.
        #[arg(long)]
        after: Option<Uuid>,
    },
    Get {
        id: Uuid,
    },
    Pause {
        id: Uuid,
        #[arg(long)]
        note: Option<String>,
    },
    Resume {
        id: Uuid,
    },
    /// Run the schedule's task now, once.
    Trigger {
        id: Uuid,
    },
    /// Decided instants, newest first.
    Occurrences {
        id: Uuid,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    Delete {
        id: Uuid,
    },
    /// What happened to the schedule, oldest first: its lifecycle events (created, changed,
    /// paused, resumed, deleted) read from Kafka, so a deleted schedule's too.
    History {
        id: Uuid,
    },
}

#[derive(Debug, Args)]
pub struct ScheduleCreateArgs {
    /// The whole definition as JSON (or @file), as POST /v1/schedules takes it.
    #[arg(long, conflicts_with_all = ["name", "task_type", "cron", "every", "at"])]
    pub definition: Option<String>,
    #[arg(long, required_unless_present = "definition")]
    pub name: Option<String>,
    /// The task's type.
    #[arg(long = "type", required_unless_present = "definition")]
    pub task_type: Option<String>,
    /// The task's payload, JSON or @file.
    #[arg(long)]
    pub payload: Option<String>,
    #[arg(long)]
    pub priority: Option<String>,
    /// The task's labels, key=value, repeatable.
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Cron expression (5 fields, or 6 with seconds first, or @daily & co.).
    #[arg(long, group = "spec")]
    pub cron: Option<String>,
    /// IANA time zone of --cron (default UTC).
    #[arg(long, requires = "cron")]
    pub timezone: Option<String>,
    /// ISO-8601 period, e.g. PT30S.
    #[arg(long, group = "spec")]
    pub every: Option<String>,
    /// Once, at this RFC 3339 time.
    #[arg(long, group = "spec")]
    pub at: Option<String>,
    /// skip, buffer_one, buffer_all, allow_all, cancel_other.
    #[arg(long)]
    pub overlap: Option<String>,
    /// ISO-8601 duration, e.g. PT30S.
    #[arg(long)]
    pub jitter: Option<String>,
    /// Create it paused.
    #[arg(long)]
    pub paused: bool,
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant and its first API key (shown once).
    Create(TenantLimits),
    Get {
        id: Uuid,
    },
    /// Change quotas or allowed priorities.
    Update {
        id: Uuid,
        #[command(flatten)]
        limits: TenantLimitChanges,
    },
    #[command(subcommand)]
    Keys(KeyCommand),
}

#[derive(Debug, Args)]
pub struct TenantLimits {
    pub name: String,
    #[arg(long)]
    pub max_active_tasks: Option<i32>,
    #[arg(long)]
    pub submissions_per_minute: Option<i32>,
    /// Comma-separated, e.g. low,normal.
    #[arg(long, value_delimiter = ',')]
    pub allowed_priorities: Option<Vec<String>>,
}

#[derive(Debug, Args)]
pub struct TenantLimitChanges {
    /// A number, or `none` to remove the limit.
    #[arg(long)]
    pub max_active_tasks: Option<String>,
    /// A number, or `none` to remove the limit.
    #[arg(long)]
    pub submissions_per_minute: Option<String>,
    /// Comma-separated, or `all` to remove the restriction.
    #[arg(long)]
    pub allowed_priorities: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Issue another key for a tenant (shown once).
    Issue { tenant_id: Uuid },
    /// Revoke a key; requests with it are refused from now on.
    Revoke { tenant_id: Uuid, key_id: Uuid },
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Dead letters with their reasons.
    List(DlqSelect),
    /// One dead letter in full: REF is its event id, its task id, or group:partition:offset.
    Show {
        reference: String,
        #[command(flatten)]
        select: DlqSelect,
    },
    /// Submit dead-lettered tasks again, as new tasks labelled `replay_of=<original task id>`.
    Replay {
        /// Dead letters to replay (event id, task id, or group:partition:offset).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        references: Vec<String>,
        /// Every replayable dead letter selected by --group/--since/--tenant.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        select: DlqSelect,
    },
}

#[derive(Debug, Args)]
pub struct DlqSelect {
    /// Only this consumer group's dead letters (e.g. svc-tasks, svc-executor).
    #[arg(long)]
    pub group: Option<String>,
    /// Only those parked at or after this RFC 3339 time.
    #[arg(long)]
    pub since: Option<String>,
    /// Only this tenant's.
    #[arg(long)]
    pub tenant: Option<Uuid>,
}

#[derive(Debug, Args)]
pub struct TapArgs {
    /// Topic names (full, base names like taskflow.tasks.requests.v1 behind the prefix, or
    /// requests / lifecycle / triggers / keys / states / schedules / schedule-states).
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub topics: Vec<String>,
    /// Every TaskFlow event topic (requests, lifecycle, triggers, keys, states, schedules,
    /// schedule-states); one the cluster does not have yet is left out, with a note.
    #[arg(long)]
    pub all: bool,
    /// beginning, latest, or an RFC 3339 time. Default: beginning (a named group: where it stopped).
    #[arg(long)]
    pub from: Option<String>,
    /// Only events of this tenant.
    #[arg(long)]
    pub tenant: Option<Uuid>,
    /// Only these event types (e.g. TaskCompleted), repeatable or comma-separated.
    #[arg(long = "type", value_delimiter = ',')]
    pub types: Vec<String>,
    /// Keep reading new records; without it the tap stops at the end of the topics as they were
    /// when it started.
    #[arg(long)]
    pub follow: bool,
    /// Read as consumer group `analytics.NAME`, which remembers where it stopped; default: an
    /// ephemeral group that commits nothing.
    #[arg(long)]
    pub group: Option<String>,
}
