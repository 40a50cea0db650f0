//! `/v1/admin`: tenants, their keys and limits, the outbox backlog. Admin token only. (The
//! projection rebuild routes under `/v1/admin/projections/rebuild` are the platform's,
//! mounted in startup.rs.)

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use serde::Serialize;
use serde_json::json;
use taskflow_platform::http::rejections;
use taskflow_platform::problem::Problem;
use uuid::Uuid;

use super::AppState;
use super::auth::Admin;
use super::correlation::CorrelationId;
use super::dto::{CreateTenant, KeyIssued, Obj, TenantCreated, TenantDto, UpdateTenant};
use super::errors::ApiError;
use crate::domain::submission::parse_priority;
use crate::domain::text::{NUL_MESSAGE, storable};
use crate::service::tenants::{self, LimitsPatch};
use crate::service::{ServiceError, keys};
use crate::store;

/// 422 for an invalid admin input at `pointer` (a JSON pointer into the request body).
fn invalid(pointer: &str, detail: String) -> ApiError {
    let field = pointer
        .rsplit('/')
        .find(|t| !t.is_empty() && t.parse::<usize>().is_err());
    ApiError(
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-tenant",
            "Invalid tenant settings",
            detail.clone(),
        )
        .with("field", field.unwrap_or_default())
        .with("errors", json!([{"pointer": pointer, "message": detail}])),
    )
}

/// Longest tenant name, in characters.
pub const MAX_TENANT_NAME: usize = 100;

/// 1-100 characters, none of them a control character (so no NUL, which the database cannot
/// store), not starting or ending with a space. The OpenAPI document states the same rule as a
/// pattern.
fn check_name(name: &str) -> Result<(), ApiError> {
    let count = name.chars().count();
    let problem = if !(1..=MAX_TENANT_NAME).contains(&count) {
        format!("name must be 1-{MAX_TENANT_NAME} characters, got {count}")
    } else if !storable(name) {
        format!("name {NUL_MESSAGE}")
    } else if name.chars().any(char::is_control) {
        "name must not contain control characters".into()
    } else if name.starts_with(' ') || name.ends_with(' ') {
        "name must not start or end with a space".into()
    } else {
        return Ok(());
    };
    Err(invalid("/name", problem))
}

fn check_limit(pointer: &str, value: Option<Option<i32>>) -> Result<Option<Option<i32>>, ApiError> {
    if let Some(Some(v)) = value
        && v < 0
    {
        let field = pointer.rsplit('/').next().unwrap_or(pointer);
        return Err(invalid(pointer, format!("{field} must be >= 0, got {v}")));
    }
    Ok(value)
}

fn check_priorities(
    value: Option<Option<Vec<String>>>,
) -> Result<Option<Option<Vec<String>>>, ApiError> {
    if let Some(Some(names)) = &value
        && let Some((i, bad)) = names
            .iter()
            .enumerate()
            .find(|(_, n)| parse_priority(n).is_none())
    {
        return Err(invalid(
            &format!("/allowed_priorities/{i}"),
            format!("{bad:?} is not one of low, normal, high, critical"),
        ));
    }
    Ok(value)
}

/// Create a tenant and its first API key (shown once).
#[utoipa::path(tag = "admin", request_body = CreateTenant, responses((status = 201, body = TenantCreated), (status = 409, description = "Name taken")), security(("admin_token" = [])))]
#[post("/v1/admin/tenants")]
pub async fn create_tenant(
    state: web::Data<AppState>,
    _admin: Admin,
    correlation: CorrelationId,
    body: web::Json<Obj<CreateTenant>>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner().0;
    check_name(&body.name)?;
    let name = body.name;
    let patch = LimitsPatch {
        max_active_tasks: check_limit("/quotas/max_active_tasks", body.quotas.max_active_tasks)?,
        submissions_per_minute: check_limit(
            "/quotas/submissions_per_minute",
            body.quotas.submissions_per_minute,
        )?,
        allowed_priorities: check_priorities(Some(body.allowed_priorities))?,
    };
    let (tenant, key) =
        tenants::create_tenant(&state.services, name, patch, &correlation.0).await?;
    Ok(HttpResponse::Created().json(TenantCreated {
        tenant: tenant.into(),
        key_id: key.key_id,
        api_key: key.key,
    }))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TenantQuery {
    /// The tenant's exact name (1-100 characters, as at creation).
    pub name: String,
}

/// The tenants a lookup found: none or one (names are unique).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TenantList {
    pub items: Vec<TenantDto>,
}

/// Find a tenant by its name, e.g. to issue a new key to a tenant whose key was lost (keys are
/// shown once) when only its name is known.
#[utoipa::path(tag = "admin", params(TenantQuery), responses((status = 200, body = TenantList), (status = 400, description = "Invalid name")), security(("admin_token" = [])))]
#[get("/v1/admin/tenants")]
pub async fn find_tenants(
    state: web::Data<AppState>,
    _admin: Admin,
    query: web::Query<TenantQuery>,
) -> Result<HttpResponse, ApiError> {
    let name = query.into_inner().name;
    // The creation rule, so a name no tenant can have is refused, not searched (and a NUL,
    // which PostgreSQL cannot compare, never reaches the database).
    if let Err(ApiError(problem)) = check_name(&name) {
        return Err(ApiError(
            rejections::invalid_query(problem.detail).with("parameter", "name"),
        ));
    }
    let mut conn = state.services.db.get().await.map_err(ServiceError::from)?;
    let found = store::find_tenant_by_name(&mut conn, &name)
        .await
        .map_err(ServiceError::from)?;
    Ok(HttpResponse::Ok().json(TenantList {
        items: found.into_iter().map(TenantDto::from).collect(),
    }))
}

/// Read a tenant's settings.
#[utoipa::path(tag = "admin", params(("id" = Uuid, Path)), responses((status = 200, body = TenantDto), (status = 404)), security(("admin_token" = [])))]
#[get("/v1/admin/tenants/{id}")]
pub async fn get_tenant(
    state: web::Data<AppState>,
    _admin: Admin,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.services.db.get().await.map_err(ServiceError::from)?;
    let tenant = store::get_tenant(&mut conn, *id)
        .await
        .map_err(ServiceError::from)?
        .ok_or(ServiceError::TenantNotFound)?;
    Ok(HttpResponse::Ok().json(TenantDto::from(tenant)))
}

/// Change quotas or allowed priorities (`null` removes a limit).
#[utoipa::path(tag = "admin", params(("id" = Uuid, Path)), request_body = UpdateTenant, responses((status = 200, body = TenantDto), (status = 404)), security(("admin_token" = [])))]
#[patch("/v1/admin/tenants/{id}")]
pub async fn update_tenant(
    state: web::Data<AppState>,
    _admin: Admin,
    id: web::Path<Uuid>,
    body: web::Json<Obj<UpdateTenant>>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner().0;
    let patch = LimitsPatch {
        max_active_tasks: check_limit("/quotas/max_active_tasks", body.quotas.max_active_tasks)?,
        submissions_per_minute: check_limit(
            "/quotas/submissions_per_minute",
            body.quotas.submissions_per_minute,
        )?,
        allowed_priorities: check_priorities(body.allowed_priorities)?,
    };
    let tenant = tenants::update_limits(&state.services, *id, patch).await?;
    Ok(HttpResponse::Ok().json(TenantDto::from(tenant)))
}

/// Issue another key (rotation: issue, switch clients, revoke the old one).
#[utoipa::path(tag = "admin", params(("id" = Uuid, Path)), responses((status = 201, body = KeyIssued), (status = 404)), security(("admin_token" = [])))]
#[post("/v1/admin/tenants/{id}/keys")]
pub async fn add_key(
    state: web::Data<AppState>,
    _admin: Admin,
    correlation: CorrelationId,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let key = keys::add_key(&state.services, *id, &correlation.0).await?;
    Ok(HttpResponse::Created().json(KeyIssued {
        tenant_id: *id,
        key_id: key.key_id,
        api_key: key.key,
        key_prefix: key.prefix,
    }))
}

/// Revoke a key; requests with it get 401 from now on.
#[utoipa::path(tag = "admin", params(("id" = Uuid, Path), ("key_id" = Uuid, Path)), responses((status = 204), (status = 404)), security(("admin_token" = [])))]
#[delete("/v1/admin/tenants/{id}/keys/{key_id}")]
pub async fn revoke_key(
    state: web::Data<AppState>,
    _admin: Admin,
    correlation: CorrelationId,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (tenant_id, key_id) = path.into_inner();
    keys::revoke_key(&state.services, tenant_id, key_id, &correlation.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct OutboxBacklog {
    pub unpublished: i64,
    pub oldest_age_secs: f64,
}

/// Events committed but not yet acknowledged by Kafka.
#[utoipa::path(tag = "admin", responses((status = 200, body = OutboxBacklog)), security(("admin_token" = [])))]
#[get("/v1/admin/outbox")]
pub async fn outbox(state: web::Data<AppState>, _admin: Admin) -> Result<HttpResponse, ApiError> {
    let mut conn = state.services.db.get().await.map_err(ServiceError::from)?;
    let (unpublished, oldest_age_secs) = store::outbox_backlog(&mut conn)
        .await
        .map_err(ServiceError::from)?;
    Ok(HttpResponse::Ok().json(OutboxBacklog {
        unpublished,
        oldest_age_secs,
    }))
}
