//! The key that signs stream tokens, one per database.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::token_secret as secret_table;
use super::{Conn, StoreError};

/// The database's token secret; `candidate` becomes it if there is none yet.
pub async fn token_secret(conn: &mut Conn, candidate: &[u8]) -> Result<Vec<u8>, StoreError> {
    diesel::insert_into(secret_table::table)
        .values((
            secret_table::id.eq(true),
            secret_table::secret.eq(candidate),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(secret_table::table
        .select(secret_table::secret)
        .first(conn)
        .await?)
}
