//! The calling tenant, by API key (`Authorization: Bearer tfk_...`), recognised by the key's
//! hash in the API-key directory ([`crate::keys`], filled from the keys topic). A service that
//! takes API keys registers a [`KeyDirectory`] as app data and takes a [`Tenant`] in its
//! handlers. No credential, or a key unknown or revoked, is a 401 of type `unauthorized`.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use uuid::Uuid;

use super::bearer::bearer;
use super::errors::{ApiError, internal, unauthorized};
use crate::db::DbPool;
use crate::keys::{self, KeyOwner};
use crate::problem::DatabaseFailure;

/// Where the [`Tenant`] extractor looks keys up, and how the service words a failed lookup.
#[derive(Clone)]
pub struct KeyDirectory {
    pub pool: DbPool,
    pub database: DatabaseFailure<'static>,
}

impl KeyDirectory {
    /// For `App::app_data`.
    pub fn data(pool: DbPool, database: DatabaseFailure<'static>) -> web::Data<Self> {
        web::Data::new(Self { pool, database })
    }

    /// The owner of the active key `key`, or 401.
    pub async fn owner_of(&self, key: &str) -> Result<KeyOwner, ApiError> {
        let mut conn = self
            .pool
            .get()
            .await
            .map_err(|e| ApiError::pool(&self.database, &e))?;
        keys::owner_of(&mut conn, key)
            .await
            .map_err(|e| ApiError::query(&self.database, &e))?
            .ok_or_else(|| unauthorized("unauthorized", "the API key is unknown or revoked"))
    }
}

/// The tenant whose active API key the request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tenant {
    pub tenant_id: Uuid,
    pub key_id: Uuid,
}

impl FromRequest for Tenant {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let key = bearer(req).map(str::to_owned);
        let directory = req.app_data::<web::Data<KeyDirectory>>().cloned();
        Box::pin(async move {
            let key = key.ok_or_else(|| {
                unauthorized("unauthorized", "send Authorization: Bearer <api key>")
            })?;
            let directory = directory.ok_or_else(|| {
                tracing::error!("no KeyDirectory registered as app data");
                internal("the request failed before it was authorised")
            })?;
            let owner = directory.owner_of(&key).await?;
            Ok(Tenant {
                tenant_id: owner.tenant_id,
                key_id: owner.key_id,
            })
        })
    }
}
