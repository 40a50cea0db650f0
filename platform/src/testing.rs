//! Helpers for integration tests of every service (compiled always, see lib.rs).

use std::future::Future;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use uuid::Uuid;

mod isolation;

pub use isolation::{Isolation, new_database};

/// Polls `check` until it yields a value; panics naming `what` after `timeout`.
pub async fn wait_until<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A record as it sits on the topic.
#[derive(Debug, Clone)]
pub struct RawRecord {
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

impl RawRecord {
    pub fn header(&self, key: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads `topic` from the beginning with a throwaway group until `count` records arrived.
pub async fn read_topic(bootstrap: &str, topic: &str, count: usize) -> Vec<RawRecord> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("it-raw-{}", Uuid::new_v4().simple()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("raw consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut read = Vec::new();
    wait_until(
        Duration::from_secs(30),
        &format!("{count} records on {topic}"),
        || {
            while let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
                read.push(RawRecord {
                    key: m.key().map(<[u8]>::to_vec),
                    payload: m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
                    headers: m
                        .headers()
                        .map(|h| {
                            h.iter()
                                .map(|h| {
                                    let value = h.value.map(String::from_utf8_lossy);
                                    (h.key.to_owned(), value.unwrap_or_default().into_owned())
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                });
            }
            std::future::ready((read.len() >= count).then_some(()))
        },
    )
    .await;
    read
}

/// Tables the platform's own migrations create; a service must not declare them again.
pub const PLATFORM_TABLES: [&str; 4] = [
    "outbox",
    "outbox_published",
    "consumed_events",
    "api_key_directory",
];

/// Panics naming the file when a migration under `dir` touches a platform table: creates,
/// alters, drops, renames or indexes it. Those tables belong to platform/migrations alone, so a
/// service's migration that changes one would make the platform's code and that service's
/// databases disagree.
pub fn assert_no_platform_tables(dir: &str) {
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).expect("migrations folder") {
        let up = entry.expect("entry").path().join("up.sql");
        let Ok(sql) = std::fs::read_to_string(&up) else {
            continue;
        };
        checked += 1;
        if let Some((table, statement)) = touched_platform_table(&sql) {
            panic!(
                "{} touches the platform's `{table}` table ({statement:?}); only platform/migrations may",
                up.display()
            );
        }
    }
    assert!(checked > 0, "no migrations found under {dir}");
}

/// The first platform table `sql` creates, alters, drops or indexes, with the words that do it.
fn touched_platform_table(sql: &str) -> Option<(&'static str, String)> {
    let code: String = sql
        .lines()
        .map(|line| line.split("--").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
        .replace(['(', ';', ','], " ");
    let words: Vec<&str> = code.split_whitespace().collect();
    let skip_if_exists = |mut i: usize| {
        for word in ["if", "not", "exists", "only"] {
            if words.get(i) == Some(&word) {
                i += 1;
            }
        }
        i
    };
    for (i, pair) in words.windows(2).enumerate() {
        let target = match pair {
            ["create" | "alter" | "drop" | "truncate", "table"] => words.get(skip_if_exists(i + 2)),
            ["on", _] => words.get(skip_if_exists(i + 1)),
            _ => None,
        };
        let Some(target) = target else { continue };
        let name = target
            .rsplit('.')
            .next()
            .unwrap_or(target)
            .trim_matches('"');
        if let Some(table) = PLATFORM_TABLES.into_iter().find(|t| *t == name) {
            let end = (i + 6).min(words.len());
            return Some((table, words[i..end].join(" ")));
        }
    }
    None
}

/// A database as a service's deployments had it before some migrations existed: every migration
/// of the platform's and of `migrations` is applied except those whose version is in `skip`
/// (diesel's version: a folder name's digits before its first `_`). Fill it the way such a
/// database was filled, then run [`crate::db::migrate`] to test that the skipped migrations move
/// what it holds. Needs a multi-thread runtime (the harness blocks in place).
pub async fn database_before(
    name: &str,
    migrations: diesel_migrations::EmbeddedMigrations,
    skip: &[&str],
) -> crate::db::DbPool {
    use diesel::migration::MigrationSource;
    use diesel_migrations::MigrationHarness;

    let url = new_database(name).await;
    let pool = crate::db::pool(&url, 2).expect("pool");
    let mut conn = pool.get().await.expect("connection");
    // What running pending migrations would do first; running them one by one does not.
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query(diesel::migration::CREATE_MIGRATIONS_TABLE),
        &mut conn,
    )
    .await
    .expect("migrations table");
    let mut harness = diesel_async::AsyncMigrationHarness::new(conn);
    let mut skipped = Vec::new();
    for set in [crate::db::PLATFORM_MIGRATIONS, migrations] {
        let all = MigrationSource::<diesel::pg::Pg>::migrations(&set).expect("migrations");
        for migration in all {
            let version = migration.name().version().to_string();
            if skip.contains(&version.as_str()) {
                skipped.push(version);
                continue;
            }
            harness.run_migration(&*migration).expect("migration");
        }
    }
    assert_eq!(
        skipped.len(),
        skip.len(),
        "no migration has version {skip:?}; skipped {skipped:?}"
    );
    pool
}

/// After a service's migration moved its own key table into the platform's directory: the key
/// `active` (id `active_id`) still names its tenant, and `revoked` (id `revoked_id`) stays
/// revoked. The service tests fill the old table their own way and end with this.
pub async fn assert_keys_carried_over(
    conn: &mut diesel_async::AsyncPgConnection,
    tenant_id: Uuid,
    (active, active_id): (&str, Uuid),
    (revoked, revoked_id): (&str, Uuid),
) {
    use crate::keys;
    assert_eq!(
        keys::owner_of(conn, active).await.expect("lookup"),
        Some(keys::KeyOwner {
            key_id: active_id,
            tenant_id
        }),
        "an active key still names its tenant"
    );
    assert_eq!(
        keys::owner_of(conn, revoked).await.expect("lookup"),
        None,
        "a revoked key names nobody"
    );
    assert!(
        !keys::is_active(conn, revoked_id, tenant_id)
            .await
            .expect("active"),
        "a revoked key stays revoked"
    );
}

/// Database errors [`crate::db::is_transient`] calls transient: the database cannot serve now.
/// A service's tests hold its error mapping to them (503 + Retry-After), so no service keeps a
/// list of its own.
pub fn transient_db_errors() -> Vec<diesel::result::Error> {
    use diesel::result::{DatabaseErrorKind, Error};
    let db = |kind, message: &str| Error::DatabaseError(kind, Box::new(message.to_owned()));
    vec![
        db(DatabaseErrorKind::ClosedConnection, "connection closed"),
        db(
            DatabaseErrorKind::UnableToSendCommand,
            "error communicating with the server",
        ),
        db(
            DatabaseErrorKind::SerializationFailure,
            "could not serialize access due to concurrent update",
        ),
        db(
            DatabaseErrorKind::ReadOnlyTransaction,
            "cannot execute INSERT in a read-only transaction",
        ),
        db(
            DatabaseErrorKind::Unknown,
            "terminating connection due to administrator command",
        ),
        db(
            DatabaseErrorKind::Unknown,
            "the database system is shutting down",
        ),
        db(
            DatabaseErrorKind::Unknown,
            "sorry, too many clients already",
        ),
        db(DatabaseErrorKind::Unknown, "deadlock detected"),
        db(
            DatabaseErrorKind::Unknown,
            "canceling statement due to statement timeout",
        ),
        Error::BrokenTransactionManager,
        Error::RollbackErrorOnCommit {
            rollback_error: Box::new(Error::BrokenTransactionManager),
            commit_error: Box::new(db(DatabaseErrorKind::Unknown, "unexpected")),
        },
    ]
}

/// Database errors retrying will not cure (a bug, a refused value, a violated constraint): a
/// service answers them 500, never 503 (promise P8).
pub fn permanent_db_errors() -> Vec<diesel::result::Error> {
    use diesel::result::{DatabaseErrorKind, Error};
    let db = |kind, message: &str| Error::DatabaseError(kind, Box::new(message.to_owned()));
    vec![
        db(
            DatabaseErrorKind::Unknown,
            "invalid byte sequence for encoding \"UTF8\": 0x00",
        ),
        db(
            DatabaseErrorKind::Unknown,
            "unsupported Unicode escape sequence",
        ),
        db(
            DatabaseErrorKind::Unknown,
            "syntax error at or near \"FORM\"",
        ),
        db(
            DatabaseErrorKind::CheckViolation,
            "new row violates check constraint",
        ),
        db(
            DatabaseErrorKind::UniqueViolation,
            "duplicate key value violates unique constraint",
        ),
        db(DatabaseErrorKind::NotNullViolation, "null value in column"),
        db(
            DatabaseErrorKind::ForeignKeyViolation,
            "violates foreign key",
        ),
        db(
            DatabaseErrorKind::ExclusionViolation,
            "conflicting key value",
        ),
        db(DatabaseErrorKind::RestrictViolation, "restrict"),
        Error::NotFound,
        Error::DeserializationError("unexpected null".into()),
        Error::SerializationError("date out of range".into()),
        Error::QueryBuilderError("no changes".into()),
        Error::RollbackTransaction,
        Error::NotInTransaction,
        Error::RollbackErrorOnCommit {
            rollback_error: Box::new(db(DatabaseErrorKind::Unknown, "no transaction")),
            commit_error: Box::new(db(DatabaseErrorKind::CheckViolation, "deferred constraint")),
        },
    ]
}

const METHODS: [&str; 7] = ["get", "put", "post", "delete", "options", "patch", "trace"];

/// Checks a service's `/openapi.json` against the routes it serves and returns the documented
/// operations ("GET /v1/x/{id}", sorted): every documented operation is routed (401 without
/// credentials under `/v1/`, otherwise a status its document lists), every other method on a
/// documented path is 405 with `Allow` naming exactly the documented ones, and an unknown path
/// is 404. `fill` gives each path parameter a concrete value.
pub async fn documented_routes(
    http: &reqwest::Client,
    base_url: &str,
    fill: &[(&str, &str)],
) -> (serde_json::Value, Vec<String>) {
    use reqwest::{Method, StatusCode};
    let response = http
        .get(format!("{base_url}/openapi.json"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let doc: serde_json::Value = response.json().await.expect("json");
    assert!(doc["openapi"].as_str().expect("openapi").starts_with("3."));
    let mut listed = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let concrete = fill
            .iter()
            .fold(path.clone(), |p, (name, value)| p.replace(name, value));
        let documented: Vec<&str> = METHODS
            .into_iter()
            .filter(|m| item.get(*m).is_some())
            .collect();
        for method in METHODS {
            let answer = http
                .request(
                    Method::from_bytes(method.to_uppercase().as_bytes()).expect("method"),
                    format!("{base_url}{concrete}"),
                )
                .send()
                .await
                .expect("request");
            let status = answer.status();
            if documented.contains(&method) {
                listed.push(format!("{} {path}", method.to_uppercase()));
                if path.starts_with("/v1/") {
                    assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
                }
                assert!(
                    item[method]["responses"][status.as_str()].is_object(),
                    "{method} {path}: {status} is not documented"
                );
            } else {
                assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
                let allow = answer.headers()["allow"].to_str().expect("allow");
                let allow: Vec<String> = allow.split(", ").map(str::to_lowercase).collect();
                assert_eq!(allow, documented, "{method} {path}");
            }
        }
    }
    let unknown = http
        .get(format!("{base_url}/v2/nothing"))
        .send()
        .await
        .expect("request");
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    listed.sort();
    (doc, listed)
}

/// Panics unless the database refuses UPDATE, DELETE and TRUNCATE of `table` (an append-only
/// log, `taskflow_append_only()`): statement triggers fire even when no row matches, so nothing
/// is changed by asking. `column` is any column of the table.
pub async fn assert_append_only(
    conn: &mut diesel_async::AsyncPgConnection,
    table: &str,
    column: &str,
) {
    use diesel_async::RunQueryDsl;
    for statement in [
        format!("UPDATE {table} SET {column} = {column} WHERE false"),
        format!("DELETE FROM {table} WHERE false"),
        format!("TRUNCATE {table}"),
    ] {
        match diesel::sql_query(&statement).execute(conn).await {
            Ok(_) => panic!("{statement}: accepted, but {table} is append-only"),
            Err(error) => assert!(
                error.to_string().contains("append-only"),
                "{statement}: refused for another reason: {error}"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::touched_platform_table;

    #[test]
    fn a_migration_touching_a_platform_table_is_caught_in_every_form() {
        for sql in [
            "CREATE TABLE outbox (id bigint);",
            "create table if not exists consumed_events(id bigint)",
            "ALTER TABLE outbox ADD COLUMN IF NOT EXISTS reason text;",
            "alter table if exists public.outbox drop column x",
            "DROP TABLE outbox;",
            "CREATE INDEX outbox_by_time ON outbox (created_at);",
            "create unique index x on only \"consumed_events\" (id)",
        ] {
            assert!(touched_platform_table(sql).is_some(), "missed: {sql}");
        }
    }

    #[test]
    fn comments_and_other_tables_pass() {
        for sql in [
            "-- The outbox is the platform's; ALTER TABLE outbox would be wrong\nSELECT 1;",
            "CREATE TABLE outbox_archive (id bigint);",
            "CREATE INDEX tasks_by_time ON tasks (created_at);",
            "ALTER TABLE tasks ADD COLUMN outbox text;",
        ] {
            assert_eq!(touched_platform_table(sql), None, "{sql}");
        }
    }
}
