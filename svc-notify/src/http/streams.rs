//! Server-Sent Events: `GET /v1/stream` (the tenant's tasks, filtered) and
//! `GET /v1/tasks/{id}/stream` (one task, ending after its terminal event). Every check happens
//! before the response starts, so a refused request gets a problem document and holds nothing
//! open.

use std::convert::Infallible;

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, get, web};
use bytes::Bytes;
use futures::StreamExt;
use taskflow_platform::problem::Problem;
use uuid::Uuid;

use super::AppState;
use super::auth::{Caller, caller};
use super::errors::{ApiError, bad_request, not_found};
use super::params::Params;
use crate::store;
use crate::subscription::{End, Filter, Frame, Start, Subscription};

/// Snapshot size of a `resync`.
const RESYNC_TASKS: i64 = 1_000;
/// What EventSource waits before reconnecting, in milliseconds.
const RETRY_MS: u32 = 2_000;

/// Subscribes and decides where the feed starts; refuses a cursor from the future.
pub async fn open(
    state: &web::Data<AppState>,
    caller: &Caller,
    filter: Filter,
    cursor: Option<i64>,
) -> Result<Subscription, ApiError> {
    // Subscribe first: whatever commits from here on reaches the feed live, and the replay
    // below covers everything before (overlaps are dropped by sequence number).
    let rx = state.hub.subscribe(caller.tenant_id).await?;
    let mut conn = state.pool.get().await.map_err(store::StoreError::from)?;
    let (last, pruned) = store::cursor_of(&mut conn, caller.tenant_id).await?;
    let start = match cursor {
        Some(after) if after > last => {
            return Err(bad_request(
                "cursor-ahead",
                "Resume cursor is ahead of the feed",
                format!(
                    "no notification {after} exists yet: the latest is {last}; resume from an id you received"
                ),
            )
            .with_extension("latest_seq", last));
        }
        Some(after) if after < pruned => {
            let mut overview =
                store::overview(&mut conn, caller.tenant_id, RESYNC_TASKS, true).await?;
            if let Some(task_id) = filter.task_id {
                overview.tasks.retain(|t| t.task_id == task_id);
            }
            Start::Resync(overview)
        }
        Some(after) => Start::After(after),
        // One task: its whole story. The tenant: from now on.
        None if filter.task_id.is_some() => Start::After(0),
        None => Start::After(last),
    };
    Ok(Subscription {
        pool: state.pool.clone(),
        tenant_id: caller.tenant_id,
        key_id: caller.key_id,
        filter,
        keepalive: state.keepalive,
        rx,
        start,
    })
}

fn sse_bytes(frame: Frame) -> Bytes {
    match frame {
        Frame::Told(told) => told.sse.clone(),
        Frame::Resync(seq, json) => format!("id: {seq}\nevent: resync\ndata: {json}\n\n").into(),
        Frame::KeepAlive => Bytes::from_static(b": keep-alive\n\n"),
        Frame::End(end) => end_event(end),
    }
}

fn end_event(end: End) -> Bytes {
    format!("event: end\ndata: {{\"reason\":\"{}\"}}\n\n", end.as_str()).into()
}

pub fn sse_response(subscription: Subscription) -> HttpResponse {
    let preamble = Bytes::from(format!("retry: {RETRY_MS}\n: TaskFlow notifications\n\n"));
    // Frames ready together leave in one write (one syscall per client per burst, not per
    // event).
    let frames = subscription.into_stream().ready_chunks(64).map(|frames| {
        let mut chunk = bytes::BytesMut::new();
        for frame in frames {
            chunk.extend_from_slice(&sse_bytes(frame));
        }
        Ok::<_, Infallible>(chunk.freeze())
    });
    let body = futures::stream::once(async move { Ok::<_, Infallible>(preamble) }).chain(frames);
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/event-stream"))
        .insert_header((CACHE_CONTROL, "no-cache"))
        // Reverse proxies (nginx) would otherwise buffer the stream.
        .insert_header(("x-accel-buffering", "no"))
        .streaming(body)
}

/// Every task of the caller's tenant, live: `type`, `status`, `label=key:value` filter;
/// `Last-Event-ID` or `after` resumes.
#[get("/v1/stream")]
pub async fn tenant_stream(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let params = Params::parse(&req, &["type", "status", "label", "after", "token"])?;
    let caller = caller(&req, &state, params.get("token")).await?;
    if let Some(task_id) = caller.task_scope {
        return Err(ApiError(Problem::new(
            StatusCode::FORBIDDEN,
            "token-scope",
            "Token limited to one task",
            format!("this stream token reads task {task_id} only: use /v1/tasks/{task_id}/stream"),
        )));
    }
    let filter = params.filter()?;
    let cursor = params.cursor(&req)?;
    Ok(sse_response(open(&state, &caller, filter, cursor).await?))
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

/// One task, live, from its first event (or `Last-Event-ID` / `after`); the stream ends after
/// the task's terminal event. Reconnecting after that end answers 204, which stops EventSource.
#[get("/v1/tasks/{task_id}/stream")]
pub async fn task_stream(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let task_id = path.into_inner();
    let params = Params::parse(&req, &["after", "token"])?;
    let caller = caller(&req, &state, params.get("token")).await?;
    check_task(&state, &caller, task_id).await?;
    let cursor = params.cursor(&req)?;
    if let Some(after) = cursor {
        let mut conn = state.pool.get().await.map_err(store::StoreError::from)?;
        let rest = store::history(&mut conn, caller.tenant_id, after, 1, Some(task_id)).await?;
        if rest.is_empty() && store::task_has_ended(&mut conn, task_id).await? {
            return Ok(HttpResponse::NoContent().finish());
        }
    }
    let filter = Filter {
        task_id: Some(task_id),
        ..Filter::default()
    };
    Ok(sse_response(open(&state, &caller, filter, cursor).await?))
}
