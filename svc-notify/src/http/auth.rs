//! Who is calling: a tenant, by API key (`Authorization: Bearer tfk_...`, for programs; looked
//! up in the platform's key directory, `taskflow_platform::keys`) or by stream token
//! (`?token=tfs_...` or the same header, for browsers). The tenant always comes from the
//! credential. Unknown, revoked, expired and foreign credentials all get 401; an API
//! key put in a URL is refused outright (URLs end up in logs). Which tasks a caller may read:
//! [`check_task`].

use actix_web::{HttpRequest, web};
use taskflow_platform::http::bearer::bearer;
use taskflow_platform::keys;
use uuid::Uuid;

use super::AppState;
use super::errors::{ApiError, bad_request, not_found, unauthorized};
use crate::domain::token::{self, TokenError};
use crate::service::resume::Reader;
use crate::store;

pub const API_KEY_PREFIX: &str = "tfk_";

#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub tenant_id: Uuid,
    pub key_id: Uuid,
    /// A token issued for one task reads only that task.
    pub task_scope: Option<Uuid>,
}

impl Caller {
    /// The caller as the reader of a feed.
    pub fn reader(&self) -> Reader {
        Reader {
            tenant_id: self.tenant_id,
            key_id: self.key_id,
        }
    }
}

/// The caller, from the header or from `token` (the `?token=` query parameter).
pub async fn caller(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    token: Option<&str>,
) -> Result<Caller, ApiError> {
    if let Some(t) = token
        && t.starts_with(API_KEY_PREFIX)
    {
        return Err(bad_request(
            "api-key-in-url",
            "API key in a URL",
            "never put an API key in a URL; exchange it for a stream token (POST /v1/stream-tokens) and pass that as ?token=",
        ));
    }
    // Checked even when the header wins: a malformed parameter is refused, never ignored.
    if let Some(t) = token
        && !t.starts_with(token::TOKEN_PREFIX)
    {
        return Err(bad_request(
            "invalid-query",
            "Invalid query parameter",
            "token must be a stream token (tfs_...) from POST /v1/stream-tokens",
        ));
    }
    let credential = match (bearer(req), token) {
        (Some(header), _) => header.to_owned(),
        (None, Some(t)) => t.to_owned(),
        (None, None) => {
            return Err(unauthorized(
                "unauthorized",
                "send Authorization: Bearer <api key>, or ?token=<stream token> from POST /v1/stream-tokens",
            ));
        }
    };
    let mut conn = state.pool.get().await.map_err(store::StoreError::from)?;
    if credential.starts_with(API_KEY_PREFIX) {
        let owner = keys::owner_of(&mut conn, &credential)
            .await
            .map_err(store::StoreError::from)?
            .ok_or_else(|| unauthorized("unauthorized", "the API key is unknown or revoked"))?;
        return Ok(Caller {
            tenant_id: owner.tenant_id,
            key_id: owner.key_id,
            task_scope: None,
        });
    }
    let now = chrono::Utc::now().timestamp();
    let claims = token::verify(&credential, &state.token_secret, now).map_err(|e| match e {
        TokenError::Expired => unauthorized(
            "token-expired",
            "the stream token expired; get a new one from POST /v1/stream-tokens",
        ),
        other => unauthorized("unauthorized", other.to_string()),
    })?;
    let active = keys::is_active(&mut conn, claims.key_id, claims.tenant_id)
        .await
        .map_err(store::StoreError::from)?;
    if !active {
        return Err(unauthorized(
            "unauthorized",
            "the API key this token was issued for is revoked",
        ));
    }
    Ok(Caller {
        tenant_id: claims.tenant_id,
        key_id: claims.key_id,
        task_scope: claims.task_id,
    })
}

/// The caller may read `task_id`: it is its tenant's (and in its token's scope). Another
/// tenant's task is "not found", exactly like a missing one.
pub async fn check_task(
    state: &web::Data<AppState>,
    caller: &Caller,
    task_id: Uuid,
) -> Result<(), ApiError> {
    let missing = || {
        not_found(format!(
            "no task {task_id} is known to the notification service (a task appears here within moments of its submission)"
        ))
    };
    if caller.task_scope.is_some_and(|scope| scope != task_id) {
        return Err(missing());
    }
    let mut conn = state.pool.get().await.map_err(store::StoreError::from)?;
    match store::task_tenant(&mut conn, task_id).await? {
        Some(tenant) if tenant == caller.tenant_id => Ok(()),
        _ => Err(missing()),
    }
}
