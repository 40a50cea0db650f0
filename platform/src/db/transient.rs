//! Which database failures are transient: the database cannot serve *now*, so the same request
//! may succeed later (HTTP 503 + Retry-After), as opposed to a failure retrying will not cure —
//! a bug in a statement, a constraint our rules should have kept, data we cannot read (HTTP
//! 500). Our promise P8: a bug is a 500, never a 503, or clients retry it forever. Every
//! service decides 503 against 500 here and nowhere else.

use diesel::ConnectionError;
use diesel::result::{DatabaseErrorKind, Error};
use diesel_async::pooled_connection::PoolError as ManagerError;
use diesel_async::pooled_connection::deadpool::{HookError, PoolError};

/// PostgreSQL messages (the cluster runs with English messages, `lc_messages` C) of errors that
/// diesel reports as `Unknown` but that say the server cannot serve right now rather than that
/// the request is wrong: SQLSTATE 57P01/57P02/57P05/25P03 (the server ended the session:
/// administrator command, crash of another backend, idle timeouts), 57P03 (starting up,
/// shutting down, in recovery), 53300 (too many connections), 53200/53100 (out of memory, disk
/// full), 40P01 (deadlock: retrying succeeds), 57014 (statement cancelled: timeout, operator,
/// conflict with recovery on a standby). diesel does not hand out the SQLSTATE, only the message.
const TRANSIENT_MESSAGES: [&str; 9] = [
    "terminating connection",
    "the database system is",
    "sorry, too many clients",
    "remaining connection slots are reserved",
    "out of memory",
    "could not extend file",
    "deadlock detected",
    "canceling statement due to",
    "could not connect",
];

/// Whether a statement's error says the database is (for now) unable to serve, so the same
/// request may succeed later. Everything else is a failure retrying would not cure: a value the
/// database refuses (e.g. 22021, 22P05: NUL in text or jsonb, which validation should have
/// caught), a constraint violation that slipped past the domain rules, a bug in a statement, a
/// row that does not decode into its Rust type.
///
/// diesel's kinds for PostgreSQL (through diesel-async/tokio-postgres):
/// - `ClosedConnection`, `UnableToSendCommand`: no SQLSTATE at all, i.e. the connection broke
///   under the query (I/O error, server gone, socket closed) -> transient;
/// - `SerializationFailure` (40001): lost a race with a concurrent transaction -> transient;
/// - `ReadOnlyTransaction` (25006): the server is a read-only standby, e.g. mid-failover;
/// - `UniqueViolation`, `ForeignKeyViolation`, `NotNullViolation`, `CheckViolation`,
///   `RestrictViolation`, `ExclusionViolation`: the request (or our code) is wrong -> not;
/// - `Unknown`: every other SQLSTATE; only the messages above are transient.
///
/// Of diesel's other errors only `BrokenTransactionManager` (the connection broke inside a
/// transaction, its rollback failed) is transient, and a failed commit whose rollback failed
/// too when either failure is; `NotFound`, (de)serialization and query-builder errors are
/// bugs.
pub fn is_transient(e: &Error) -> bool {
    match e {
        Error::DatabaseError(kind, info) => match kind {
            DatabaseErrorKind::ClosedConnection
            | DatabaseErrorKind::UnableToSendCommand
            | DatabaseErrorKind::SerializationFailure
            | DatabaseErrorKind::ReadOnlyTransaction => true,
            DatabaseErrorKind::UniqueViolation
            | DatabaseErrorKind::ForeignKeyViolation
            | DatabaseErrorKind::NotNullViolation
            | DatabaseErrorKind::CheckViolation
            | DatabaseErrorKind::RestrictViolation
            | DatabaseErrorKind::ExclusionViolation => false,
            _ => {
                let message = info.message();
                TRANSIENT_MESSAGES.iter().any(|m| message.contains(m))
            }
        },
        Error::BrokenTransactionManager => true,
        Error::RollbackErrorOnCommit {
            rollback_error,
            commit_error,
        } => is_transient(commit_error) || is_transient(rollback_error),
        _ => false,
    }
}

/// Whether failing to open a connection is transient: always, except a URL that cannot be
/// used at all. A connection that was refused, timed out, failed authentication or names a
/// database that is gone (or not accepting connections) is an outage of the service's
/// database, not a fault of the request; the request never ran.
pub fn is_transient_connection(e: &ConnectionError) -> bool {
    !matches!(
        e,
        ConnectionError::InvalidCString(_) | ConnectionError::InvalidConnectionUrl(_)
    )
}

/// Whether failing to get a connection from the pool is transient: the pool timed out (every
/// connection busy, or the database does not answer), was closed (shutting down), or could not
/// open or check a connection (see [`is_transient_connection`]). Only a pool built without a
/// runtime, a bug of ours, is not.
pub fn is_transient_pool(e: &PoolError) -> bool {
    let backend = |e: &ManagerError| match e {
        ManagerError::ConnectionError(e) => is_transient_connection(e),
        // The check of a pooled connection before reuse: it broke.
        ManagerError::QueryError(_) => true,
    };
    match e {
        PoolError::Timeout(_) | PoolError::Closed => true,
        PoolError::Backend(e) | PoolError::PostCreateHook(HookError::Backend(e)) => backend(e),
        PoolError::NoRuntimeSpecified | PoolError::PostCreateHook(HookError::Message(_)) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testing::{permanent_db_errors, transient_db_errors};

    fn db(kind: DatabaseErrorKind, message: &str) -> Error {
        Error::DatabaseError(kind, Box::new(message.to_owned()))
    }

    #[test]
    fn availability_errors_are_transient() {
        for e in transient_db_errors() {
            assert!(is_transient(&e), "{e:?}");
        }
    }

    #[test]
    fn bugs_and_refused_values_are_not_transient() {
        for e in permanent_db_errors() {
            assert!(!is_transient(&e), "{e:?}");
        }
    }

    #[test]
    fn failing_to_get_a_connection_is_transient_unless_the_url_is_unusable() {
        let refused = || {
            ManagerError::ConnectionError(ConnectionError::BadConnection(
                "connection refused".into(),
            ))
        };
        let not_accepting = ConnectionError::CouldntSetupConfiguration(db(
            DatabaseErrorKind::Unknown,
            "database \"x\" is not currently accepting connections",
        ));
        let transient = [
            PoolError::Closed,
            PoolError::Backend(refused()),
            PoolError::Backend(ManagerError::ConnectionError(not_accepting)),
            PoolError::Backend(ManagerError::QueryError(Error::BrokenTransactionManager)),
            PoolError::PostCreateHook(HookError::Backend(refused())),
        ];
        for e in transient {
            assert!(is_transient_pool(&e), "{e:?}");
        }
        let permanent = [
            PoolError::NoRuntimeSpecified,
            PoolError::Backend(ManagerError::ConnectionError(
                ConnectionError::InvalidConnectionUrl("no scheme".into()),
            )),
            PoolError::PostCreateHook(HookError::Message("bad hook".into())),
        ];
        for e in permanent {
            assert!(!is_transient_pool(&e), "{e:?}");
        }
    }
}
