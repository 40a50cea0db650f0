//! Use cases: each runs the pure rules of `domain` inside one database transaction, so a
//! refused change writes nothing and an accepted one writes the schedule, its occurrences and
//! their events (outbox) together: the occurrences' events, and for a change of the schedule's
//! life its lifecycle event and state record ([`outgoing`], appended last). The HTTP handlers
//! parse, call one of these and map the error; the firer shares [`record`] with them.

pub mod change;
pub mod outgoing;
pub mod rebuild;
pub mod record;
pub mod schedules;
pub mod trigger;

use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use taskflow_platform::clock::SharedClock;
use taskflow_platform::db::DbPool;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::domain::definition::{Definition, ScheduleModel};
use crate::domain::template::TemplateProblem;
use crate::store::{ScheduleRow, StoreError};

pub use record::record;

/// Most instants one backfill (or one resume's record of paused instants) writes.
pub const MAX_INSTANTS: usize = 1_000;

/// What every use case needs.
#[derive(Clone)]
pub struct Services {
    pub pool: DbPool,
    /// Where "now" comes from (a manual clock in tests).
    pub clock: SharedClock,
    /// Wakes the outbox relay after a commit that enqueued events.
    pub outbox_ready: Arc<Notify>,
    /// `svc-scheduler/<version>@<instance>`, the `producer` of events written here.
    pub producer: String,
    /// Most fires per second a schedule may ask for.
    pub max_per_second: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// No such schedule for this tenant (another tenant's is missing too).
    #[error("no schedule {0}")]
    NotFound(Uuid),
    /// The schedule breaks a rule; each problem located by JSON pointer.
    #[error("invalid schedule")]
    Invalid(Vec<TemplateProblem>),
    /// A change whose merged definition is not a definition at all (a field of the wrong
    /// type, an unknown field).
    #[error("{0}")]
    Undecodable(String),
    /// A stored schedule this service cannot read: a fault of ours, never the caller's.
    #[error("stored schedule {id} is unreadable: {reason}")]
    Unreadable { id: Uuid, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Services {
    /// Now, to the millisecond: the precision of the times the events tell, so the times a use
    /// case stores (created, updated, decided) are the ones its events carry and a rebuild
    /// from the log restores them exactly.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(3)
    }
}

impl ServiceError {
    /// One problem at `pointer`.
    pub fn invalid(pointer: &str, message: impl Into<String>) -> Self {
        ServiceError::Invalid(vec![TemplateProblem {
            pointer: pointer.into(),
            message: message.into(),
        }])
    }
}

impl From<diesel::result::Error> for ServiceError {
    fn from(e: diesel::result::Error) -> Self {
        ServiceError::Store(StoreError::from(e))
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for ServiceError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        ServiceError::Store(StoreError::from(e))
    }
}

/// The definition of a stored schedule, for what it announces; `None` (logged) when this
/// version cannot read it, so the change goes ahead unannounced rather than be refused (the
/// firer pauses such a schedule, and pausing or deleting it must stay possible).
fn readable(row: &ScheduleRow) -> Option<Definition> {
    serde_json::from_value(row.definition.clone())
        .inspect_err(|error| {
            tracing::error!(schedule_id = %row.id, %error, "stored definition unreadable; the change is not announced");
        })
        .ok()
}

/// The rules of a stored schedule.
fn model_of(row: &ScheduleRow) -> Result<ScheduleModel, ServiceError> {
    ScheduleModel::from_stored(&row.definition)
        .map_err(|reason| ServiceError::Unreadable { id: row.id, reason })
}

/// The row of a schedule (new or changed) planned from `now`: its next instant and when it
/// runs.
fn state_row(
    id: Uuid,
    tenant_id: Uuid,
    definition: &Definition,
    model: &ScheduleModel,
    anchor: DateTime<Utc>,
    now: DateTime<Utc>,
) -> ScheduleRow {
    let (next_nominal, next_fire_at) = model.first_from(id, anchor, now);
    ScheduleRow {
        id,
        tenant_id,
        name: definition.name.trim().to_owned(),
        definition: serde_json::to_value(definition).unwrap_or_default(),
        paused: definition.paused,
        anchor,
        next_nominal,
        next_fire_at,
        waiting_for_task: None,
        created_at: now,
        updated_at: now,
    }
}
