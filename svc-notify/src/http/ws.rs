//! `GET /v1/ws`: the same feed over WebSocket, for clients that prefer it. Text messages carry
//! the same JSON as the SSE `data:` lines (`kind` says which: task, resync, end); `after` (or
//! `Last-Event-ID`) resumes, `task_id` follows one task. Quiet feeds get a ping every
//! keep-alive interval.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use actix_ws::{CloseCode, CloseReason, Message};
use futures::StreamExt;
use taskflow_platform::problem::Problem;

use super::AppState;
use super::auth::{caller, check_task};
use super::errors::ApiError;
use super::params::Params;
use super::streams::open;
use crate::service::subscription::{Filter, Frame};

#[get("/v1/ws")]
pub async fn feed(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let params = Params::parse(
        &req,
        &["type", "status", "label", "after", "token", "task_id"],
    )?;
    let caller = caller(&req, &state, params.get("token")).await?;
    let task_id = params.uuid("task_id")?.or(caller.task_scope);
    if let Some(task_id) = task_id {
        check_task(&state, &caller, task_id).await?;
    }
    let filter = Filter {
        task_id,
        ..params.filter()?
    };
    let cursor = params.cursor(&req)?;
    let subscription = open(&state, &caller, filter, cursor).await?;
    let (response, mut session, mut incoming) = actix_ws::handle(&req, body).map_err(|e| {
        ApiError(Problem::new(
            StatusCode::BAD_REQUEST,
            "not-a-websocket",
            "WebSocket upgrade expected",
            format!("connect with a WebSocket client: {e}"),
        ))
    })?;
    actix_web::rt::spawn(async move {
        let mut frames = std::pin::pin!(subscription.into_stream());
        let reason = loop {
            tokio::select! {
                frame = frames.next() => {
                    let sent = match frame {
                        Some(Frame::Told(told)) => session.text(told.json.to_string()).await,
                        Some(Frame::Resync(_, json)) => session.text(json.to_string()).await,
                        Some(Frame::KeepAlive) => session.ping(b"").await,
                        Some(Frame::End(end)) => {
                            let _ = session
                                .text(format!("{{\"kind\":\"end\",\"reason\":\"{}\"}}", end.as_str()))
                                .await;
                            break Some(CloseReason {
                                code: CloseCode::Normal,
                                description: Some(end.as_str().to_owned()),
                            });
                        }
                        None => break None,
                    };
                    if sent.is_err() {
                        return;
                    }
                }
                message = incoming.next() => match message {
                    Some(Ok(Message::Ping(bytes))) => {
                        if session.pong(&bytes).await.is_err() {
                            return;
                        }
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break None,
                    Some(Ok(_)) => {}
                },
            }
        };
        let _ = session.close(reason).await;
    });
    Ok(response)
}
