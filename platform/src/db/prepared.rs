//! Statements written as SQL text that PostgreSQL parses and plans once per connection.
//!
//! diesel marks every `sql_query` unsafe to cache, so each call is a fresh unnamed statement:
//! one more round trip (Parse/Describe before Bind/Execute) and a new plan every time. On the
//! hot paths that was most of PostgreSQL's planning (1.1 ms of ~10 ms of statement time per task
//! at 100 single submissions/s, `pg_stat_statements`, the claim alone 0.44 ms). A statement
//! whose text never changes is as safe to cache as one built by the query builder: [`prepared`]
//! says so, and diesel keeps it in the connection's statement cache keyed by its text and bind
//! types. Only constant text belongs here — a row count or a list spliced into the text would
//! add a cache entry per variant (arrays bound as one parameter keep the text constant).
//!
//! PostgreSQL may then run a generic plan (after five executions, when it costs no more than
//! the custom ones did): a statement given to [`prepared`] must have a shape whose generic plan
//! is good, e.g. look rows up by key rather than rely on a parameter's value for selectivity.

use diesel::QueryResult;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};

/// A statement with constant SQL text, cached and prepared once per connection.
#[derive(Debug, Clone)]
pub struct Prepared<Q>(Q);

/// Marks `query` (constant SQL text with its binds, e.g. a `sql_query(..).bind(..)`) as safe to
/// keep prepared.
pub fn prepared<Q>(query: Q) -> Prepared<Q> {
    Prepared(query)
}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Prepared<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &Pg) -> QueryResult<bool> {
        Ok(true)
    }
}

// No static id: diesel then keys the cache by the SQL text and the bind types.
impl<Q> QueryId for Prepared<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for Prepared<Q> {
    type SqlType = Q::SqlType;
}
