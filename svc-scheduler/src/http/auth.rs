//! The calling tenant, by API key (`Authorization: Bearer tfk_...`), recognised by its hash
//! from the keys svc-tasks announces on the keys topic.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use sha2::{Digest, Sha256};
use taskflow_platform::http::bearer::bearer;
use uuid::Uuid;

use super::AppState;
use super::errors::{ApiError, unauthorized};
use crate::store;

pub struct Tenant(pub Uuid);

impl FromRequest for Tenant {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let key = bearer(req).map(str::to_owned);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let key = key.ok_or_else(|| unauthorized("send Authorization: Bearer <api key>"))?;
            let state = state.ok_or_else(|| unauthorized("application state missing"))?;
            let mut conn = state
                .services
                .pool
                .get()
                .await
                .map_err(store::StoreError::from)?;
            let hash = Sha256::digest(key.as_bytes());
            store::key_for_hash(&mut conn, &hash)
                .await?
                .map(Tenant)
                .ok_or_else(|| unauthorized("the API key is unknown or revoked"))
        })
    }
}
