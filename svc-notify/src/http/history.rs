//! `GET /v1/notifications` pages the history; `GET /v1/overview` is the tenant at one instant
//! (counters, recent tasks, and the sequence number to stream after).

use actix_web::{HttpRequest, HttpResponse, get, web};
use serde_json::json;

use super::AppState;
use super::auth::{caller, check_task};
use super::errors::ApiError;
use super::params::Params;
use crate::hub::render;
use crate::store;

/// `after` (default 0), `limit` (1..=500, default 100), `task_id`. `next_after` is the cursor
/// of the next page, null at the end.
#[get("/v1/notifications")]
pub async fn notifications(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let params = Params::parse(&req, &["after", "limit", "task_id", "token"])?;
    let caller = caller(&req, &state, params.get("token")).await?;
    let task_id = params.uuid("task_id")?.or(caller.task_scope);
    if let Some(task_id) = task_id {
        check_task(&state, &caller, task_id).await?;
    }
    let after = params.cursor(&req)?.unwrap_or(0);
    let limit = params.limit(100, 500)?;
    let mut conn = state.pool.get().await.map_err(store::StoreError::from)?;
    let (last, pruned) = store::cursor_of(&mut conn, caller.tenant_id).await?;
    let rows = store::history(&mut conn, caller.tenant_id, after, limit, task_id).await?;
    let next_after = (rows.len() as i64 == limit).then(|| rows.last().map(|r| r.seq));
    let items: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| serde_json::from_str(&render(r)).unwrap_or_default())
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "items": items,
        "next_after": next_after.flatten(),
        "latest_seq": last,
        "pruned_through": pruned,
    })))
}

/// Counters per status, the most recently changed tasks (`limit` 1..=1000, default 200) and
/// `seq`: open `/v1/stream?after=<seq>` to follow from exactly this state.
#[get("/v1/overview")]
pub async fn overview(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let params = Params::parse(&req, &["limit", "token"])?;
    let caller = caller(&req, &state, params.get("token")).await?;
    let limit = params.limit(200, 1_000)?;
    let mut conn = state.pool.get().await.map_err(store::StoreError::from)?;
    let mut overview = store::overview(&mut conn, caller.tenant_id, limit, false).await?;
    if let Some(task_id) = caller.task_scope {
        overview.tasks.retain(|t| t.task_id == task_id);
    }
    Ok(HttpResponse::Ok().json(overview))
}
