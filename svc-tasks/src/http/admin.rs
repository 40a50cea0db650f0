//! `/v1/admin`: tenants, their keys and limits, projection rebuilds. Admin token only.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use serde::Serialize;
use taskflow_platform::problem::Problem;
use uuid::Uuid;

use super::AppState;
use super::auth::Admin;
use super::dto::{CreateTenant, KeyIssued, TenantCreated, TenantDto, UpdateTenant};
use super::errors::ApiError;
use crate::domain::submission::parse_priority;
use crate::service::ServiceError;
use crate::service::rebuild::rebuild_projections;
use crate::service::tenants::{self, LimitsPatch};
use crate::store;

fn invalid(field: &str, detail: String) -> ApiError {
    ApiError(
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-tenant",
            "Invalid tenant settings",
            detail,
        )
        .with("field", field),
    )
}

fn check_limit(field: &str, value: Option<Option<i32>>) -> Result<Option<Option<i32>>, ApiError> {
    if let Some(Some(v)) = value
        && v < 0
    {
        return Err(invalid(field, format!("{field} must be >= 0, got {v}")));
    }
    Ok(value)
}

fn check_priorities(
    value: Option<Option<Vec<String>>>,
) -> Result<Option<Option<Vec<String>>>, ApiError> {
    if let Some(Some(names)) = &value
        && let Some(bad) = names.iter().find(|n| parse_priority(n).is_none())
    {
        return Err(invalid(
            "allowed_priorities",
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
    body: web::Json<CreateTenant>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let name = body.name.trim().to_owned();
    if name.is_empty() || name.len() > 100 {
        return Err(invalid("name", "name must be 1-100 characters".into()));
    }
    let patch = LimitsPatch {
        max_active_tasks: check_limit("max_active_tasks", body.quotas.max_active_tasks)?,
        submissions_per_minute: check_limit(
            "submissions_per_minute",
            body.quotas.submissions_per_minute,
        )?,
        allowed_priorities: check_priorities(Some(body.allowed_priorities))?,
    };
    let (tenant, key) = tenants::create_tenant(&state.services, name, patch).await?;
    Ok(HttpResponse::Created().json(TenantCreated {
        tenant: tenant.into(),
        key_id: key.key_id,
        api_key: key.key,
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
    body: web::Json<UpdateTenant>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let patch = LimitsPatch {
        max_active_tasks: check_limit("max_active_tasks", body.quotas.max_active_tasks)?,
        submissions_per_minute: check_limit(
            "submissions_per_minute",
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
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let key = tenants::add_key(&state.services, *id).await?;
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
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (tenant_id, key_id) = path.into_inner();
    tenants::revoke_key(&state.services, tenant_id, key_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Rebuilt {
    pub rebuilt_tasks: u64,
}

/// Rebuild the task projection from the event log.
#[utoipa::path(tag = "admin", responses((status = 200, body = Rebuilt)), security(("admin_token" = [])))]
#[post("/v1/admin/projections/rebuild")]
pub async fn rebuild(state: web::Data<AppState>, _admin: Admin) -> Result<HttpResponse, ApiError> {
    let rebuilt_tasks = rebuild_projections(&state.services).await?;
    Ok(HttpResponse::Ok().json(Rebuilt { rebuilt_tasks }))
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
