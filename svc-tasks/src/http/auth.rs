//! Who is calling: a tenant by API key, or the operator by admin token. The tenant always comes
//! from the credential, never from the request body.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use taskflow_platform::http::bearer::bearer;
use taskflow_platform::http::errors::{self, ApiError};

use super::AppState;
use crate::service::credentials::token_matches;
use crate::service::tenants::tenant_for_key;
use crate::store::TenantRow;

fn unauthorized(detail: &str) -> ApiError {
    errors::unauthorized("unauthorized", detail)
}

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| errors::internal("application state missing"))
}

/// The calling tenant.
pub struct Tenant(pub TenantRow);

impl FromRequest for Tenant {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let key = bearer(req).map(str::to_owned);
        let state = state(req);
        Box::pin(async move {
            let key = key.ok_or_else(|| unauthorized("send Authorization: Bearer <api key>"))?;
            let state = state?;
            tenant_for_key(&state.services, &key)
                .await?
                .map(Tenant)
                .ok_or_else(|| unauthorized("the API key is unknown or revoked"))
        })
    }
}

/// The operator, holding the admin token from configuration.
pub struct Admin;

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let result = state(req).and_then(|state| match bearer(req) {
            Some(token) if token_matches(token, &state.admin_token) => Ok(Admin),
            _ => Err(unauthorized(
                "admin endpoints need Authorization: Bearer <admin token>",
            )),
        });
        std::future::ready(result)
    }
}
