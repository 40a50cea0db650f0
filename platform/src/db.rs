//! PostgreSQL through diesel-async: a pool per service, embedded migrations, throwaway databases
//! for tests.

use diesel_async::pooled_connection::deadpool::{BuildError, Pool, PoolError};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{
    AsyncConnection, AsyncMigrationHarness, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection,
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

mod prepared;
mod transient;

pub use prepared::{Prepared, prepared};
pub use transient::{is_transient, is_transient_connection, is_transient_pool};

pub type DbPool = Pool<AsyncPgConnection>;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot build the connection pool: {0}")]
    Build(#[from] BuildError),
    #[error("no database connection available: {0}")]
    Pool(#[from] PoolError),
    #[error("cannot connect to the database: {0}")]
    Connect(#[from] diesel::ConnectionError),
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("migrations failed: {0}")]
    Migrate(String),
}

impl DbError {
    /// Whether the database cannot serve for now (see [`is_transient`]); a pool that cannot be
    /// built and failed migrations are not.
    pub fn is_transient(&self) -> bool {
        match self {
            DbError::Pool(e) => is_transient_pool(e),
            DbError::Connect(e) => is_transient_connection(e),
            DbError::Query(e) => is_transient(e),
            DbError::Build(_) | DbError::Migrate(_) => false,
        }
    }
}

/// A pool of `max_size` connections. A connection handed back is reused without a test query
/// (`RecyclingMethod::Fast`: only an open transaction or a broken connection is discarded); a
/// `SELECT 1` per checkout was a round trip for every unit of work. A connection that died
/// meanwhile fails its next statement, which callers treat as an outage and retry.
///
/// A transaction whose future is dropped half-way (an HTTP request whose client went away, an
/// attempt cancelled by its timeout while reporting progress) leaves its connection open in a
/// transaction: diesel-async discards such a connection only when the pool hands it out again.
/// Meanwhile it holds its row locks and the outbox writers' lock, and with it every outbox
/// writer and the relay of the database wait (seen in CI: an executor stalled for minutes). So
/// PostgreSQL ends a pooled session that sits idle in a transaction for [`IDLE_IN_TRANSACTION`]
/// (the relay sets its own limit for its passes): its locks go, and the pool discards it.
pub fn pool(url: &str, max_size: usize) -> Result<DbPool, DbError> {
    let mut config = ManagerConfig::default();
    config.recycling_method = RecyclingMethod::Fast;
    config.custom_setup = Box::new(|url| {
        Box::pin(async move {
            let mut conn = AsyncPgConnection::establish(url).await?;
            conn.batch_execute(&format!(
                "SET idle_in_transaction_session_timeout = '{}s'",
                IDLE_IN_TRANSACTION.as_secs()
            ))
            .await
            .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
            Ok(conn)
        })
    });
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, config);
    Ok(Pool::builder(manager).max_size(max_size).build()?)
}

/// How long PostgreSQL lets a pooled session sit idle inside a transaction before ending it.
/// Longer than any wait a transaction makes on purpose (a state relay's publish waits up to
/// `KAFKA_DELIVERY_TIMEOUT_MS`, 30 s by default).
pub const IDLE_IN_TRANSACTION: std::time::Duration = std::time::Duration::from_secs(60);

/// Any fixed number; instances of one service agree on it, so only one migrates at a time.
const MIGRATION_LOCK: i64 = 0x7461_736b_666c_6f77;

/// Tables every service has, owned by the platform (the outbox, the inbox, the API-key
/// directory): applied before a service's own.
pub const PLATFORM_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Applies pending platform migrations, then the service's own. Instances starting together take turns (a session advisory
/// lock), otherwise the second would fail on tables the first just created. Needs a
/// multi-thread tokio runtime (the harness blocks in place).
pub async fn migrate(pool: &DbPool, migrations: EmbeddedMigrations) -> Result<(), DbError> {
    let mut connection = pool.get().await?;
    diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
        .execute(&mut connection)
        .await?;
    let mut harness = AsyncMigrationHarness::new(connection);
    let mut run = |set: EmbeddedMigrations| {
        harness
            .run_pending_migrations(set)
            .map(|_| ())
            .map_err(|e| DbError::Migrate(e.to_string()))
    };
    let result = run(PLATFORM_MIGRATIONS).and_then(|()| run(migrations));
    let mut connection = harness.into_inner();
    diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
        .execute(&mut connection)
        .await?;
    result
}

/// Creates database `name` (if missing) through the maintenance database at `admin_url`, and
/// returns the URL of the new database. For tests and tools, not for services.
pub async fn create_database(admin_url: &str, name: &str) -> Result<String, DbError> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        return Err(DbError::Migrate(format!("unsafe database name {name:?}")));
    }
    let mut admin = AsyncPgConnection::establish(admin_url).await?;
    // CREATE DATABASE cannot take a bind parameter; the name was checked above.
    if let Err(error) = admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
    {
        let exists = matches!(
            &error,
            diesel::result::Error::DatabaseError(_, info) if info.message().contains("already exists")
        );
        if !exists {
            return Err(error.into());
        }
    }
    let base = admin_url
        .rsplit_once('/')
        .map(|(base, _)| base)
        .unwrap_or(admin_url);
    Ok(format!("{base}/{name}"))
}
