//! `X-Correlation-Id` and the request's span, for every service's HTTP API: the id is taken
//! from the request when it is sane, generated otherwise, echoed in the response, put on the
//! request's span and into every event the request causes. The span joins a caller's W3C
//! trace (`traceparent`) or starts one. Mount with `App::wrap_fn(correlation::middleware)`.

use crate::headers;
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use tracing::Instrument;
use uuid::Uuid;

pub const HEADER: &str = "x-correlation-id";

#[derive(Debug, Clone)]
pub struct CorrelationId(pub String);

fn acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

/// For `App::wrap_fn`.
pub fn middleware<S>(
    req: ServiceRequest,
    service: &S,
) -> impl std::future::Future<Output = Result<ServiceResponse, actix_web::Error>> + use<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse, Error = actix_web::Error>,
{
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_owned)
        .unwrap_or_else(|| Uuid::now_v7().to_string());
    req.extensions_mut().insert(CorrelationId(id.clone()));
    let span = tracing::info_span!(
        "http_request",
        otel.kind = "server",
        method = %req.method(),
        path = %req.path(),
        correlation_id = %id,
        status = tracing::field::Empty,
        trace_id = tracing::field::Empty,
    );
    // A caller's W3C `traceparent` makes this request part of its trace; without one the
    // request's own span is the root of a new trace. Either way every event the request writes
    // carries that trace (the outbox stores it) and log lines name it.
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let traceparent = header(headers::TRACEPARENT).filter(|tp| headers::trace_id_of(tp).is_some());
    headers::adopt_trace_context(&span, traceparent, header(headers::TRACESTATE));
    if let Some(trace_id) = headers::current_trace_in(&span)
        .traceparent
        .as_deref()
        .and_then(headers::trace_id_of)
    {
        span.record("trace_id", trace_id);
    }
    // The route's template (`/v1/tasks/{id}`), never the path itself: bounded label values.
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let started = std::time::Instant::now();
    let response = service.call(req);
    async move {
        let mut response = response.instrument(span.clone()).await?;
        span.record("status", response.status().as_u16());
        crate::metrics::HTTP_REQUEST_DURATION
            .with_label_values(&[method.as_str(), route.as_str(), response.status().as_str()])
            .observe(started.elapsed().as_secs_f64());
        if let Ok(value) = HeaderValue::from_str(&id) {
            response
                .headers_mut()
                .insert(HeaderName::from_static(HEADER), value);
        }
        Ok(response)
    }
}

impl FromRequest for CorrelationId {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let id = req
            .extensions()
            .get::<CorrelationId>()
            .cloned()
            .unwrap_or_else(|| CorrelationId(Uuid::now_v7().to_string()));
        std::future::ready(Ok(id))
    }
}
