//! Server-Sent Events: `GET /v1/stream` (the tenant's tasks, filtered) and
//! `GET /v1/tasks/{id}/stream` (one task, ending after its terminal event). Every check happens
//! before the response starts, so a refused request gets a problem document and holds nothing
//! open. Where a stream resumes (`Last-Event-ID`, `after`, resync, 204 after the end) is
//! `service::resume`'s; here the frames become SSE.

use std::convert::Infallible;

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, get, web};
use bytes::Bytes;
use futures::StreamExt;
use taskflow_platform::problem::Problem;
use uuid::Uuid;

use super::AppState;
use super::auth::{Caller, caller, check_task};
use super::errors::ApiError;
use super::params::Params;
use crate::service::resume;
use crate::service::subscription::{End, Filter, Frame, Subscription};

/// What EventSource waits before reconnecting, in milliseconds.
const RETRY_MS: u32 = 2_000;

/// The caller's feed, started where [`resume::open`] decides.
pub async fn open(
    state: &web::Data<AppState>,
    caller: &Caller,
    filter: Filter,
    cursor: Option<i64>,
) -> Result<Subscription, ApiError> {
    Ok(resume::open(
        &state.pool,
        &state.hub,
        state.keepalive,
        caller.reader(),
        filter,
        cursor,
    )
    .await?)
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
    if let Some(after) = cursor
        && resume::task_feed_is_over(&state.pool, caller.tenant_id, task_id, after).await?
    {
        return Ok(HttpResponse::NoContent().finish());
    }
    let filter = Filter {
        task_id: Some(task_id),
        ..Filter::default()
    };
    Ok(sse_response(open(&state, &caller, filter, cursor).await?))
}
