//! Each service reaches PostgreSQL as its own role, which owns its database and nothing else:
//! not a superuser, and refused at the door of every other service's database (svc-notify
//! cannot read svc-tasks' tables). Against the databases `make up` made, through the
//! `DATABASE_URL_*` the services themselves get.

use diesel::QueryableByName;
use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

const SERVICES: [(&str, &str); 4] = [
    ("svc-tasks", "DATABASE_URL_TASKS"),
    ("svc-executor", "DATABASE_URL_EXECUTOR"),
    ("svc-notify", "DATABASE_URL_NOTIFY"),
    ("svc-scheduler", "DATABASE_URL_SCHEDULER"),
];

fn url(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| panic!("{var}: run the tests with `make test`"))
}

/// `url` with its database replaced by `database` (the role and password kept).
fn with_database(url: &str, database: &str) -> String {
    let (server, _) = url.rsplit_once('/').expect("a database in the URL");
    format!("{server}/{database}")
}

fn database_of(url: &str) -> &str {
    url.rsplit_once('/').expect("a database in the URL").1
}

#[derive(QueryableByName)]
struct Me {
    #[diesel(sql_type = Text)]
    role: String,
    #[diesel(sql_type = Bool)]
    superuser: bool,
    #[diesel(sql_type = Bool)]
    owns_database: bool,
}

#[tokio::test(flavor = "multi_thread")]
async fn every_service_owns_its_database_and_cannot_enter_another() {
    for (service, var) in SERVICES {
        let own = url(var);
        let mut conn = AsyncPgConnection::establish(&own)
            .await
            .unwrap_or_else(|e| panic!("{service} connects to its own database: {e}"));
        let me: Me = diesel::sql_query(
            "SELECT current_user::text AS role, \
                    (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser, \
                    (SELECT pg_get_userbyid(datdba) = current_user FROM pg_database \
                     WHERE datname = current_database()) AS owns_database",
        )
        .get_result(&mut conn)
        .await
        .expect("who am I");
        assert!(
            !me.superuser,
            "{service} connects as a superuser ({})",
            me.role
        );
        assert!(
            me.owns_database,
            "{service}'s role {} owns its database",
            me.role
        );

        for (other, other_var) in SERVICES {
            if other == service {
                continue;
            }
            let theirs = with_database(&own, database_of(&url(other_var)));
            match AsyncPgConnection::establish(&theirs).await {
                Ok(_) => panic!("{service}'s role enters {other}'s database"),
                Err(error) => assert!(
                    error.to_string().contains("permission denied for database"),
                    "{service} -> {other}: {error}"
                ),
            }
        }
    }
}
