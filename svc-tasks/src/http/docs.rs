//! `GET /openapi.json` (generated from the handlers) and `GET /docs`, a page for people.

use actix_web::{HttpResponse, get};
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

use super::{admin, dto, health, tasks};

#[derive(OpenApi)]
#[openapi(
    info(title = "TaskFlow tasks API", description = "Submit, watch and cancel background tasks. Errors are RFC 9457 application/problem+json."),
    paths(
        tasks::submit_task, tasks::submit_batch, tasks::get_task, tasks::list_tasks,
        tasks::task_events, tasks::cancel_task,
        admin::create_tenant, admin::get_tenant, admin::update_tenant, admin::add_key,
        admin::revoke_key, admin::rebuild, admin::outbox,
        health::live, health::ready,
    ),
    components(schemas(dto::SubmitTask, dto::BatchItem, dto::SubmitBatch, dto::CancelTask, dto::TaskDto, dto::TaskList, dto::EventList)),
    modifiers(&Security)
)]
pub struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

#[get("/openapi.json")]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A self-contained page (no scripts, no CDN) listing every operation.
#[get("/docs")]
pub async fn docs_page() -> HttpResponse {
    let api = ApiDoc::openapi();
    let mut rows = String::new();
    for (path, item) in &api.paths.paths {
        let operations = [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PATCH", &item.patch),
            ("DELETE", &item.delete),
        ];
        for (method, op) in operations {
            if let Some(op) = op {
                let summary = op
                    .summary
                    .clone()
                    .or_else(|| op.description.clone())
                    .unwrap_or_default();
                rows.push_str(&format!(
                    "<tr><td><code>{method}</code></td><td><code>{}</code></td><td>{}</td></tr>\n",
                    escape(path),
                    escape(&summary)
                ));
            }
        }
    }
    let html = format!(
        "<!doctype html><html><head><meta charset=utf-8><title>TaskFlow API</title>\
         <style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto}}td{{padding:.3rem .8rem;border-bottom:1px solid #ddd}}</style></head>\
         <body><h1>{}</h1><p>{}</p><p>Machine-readable: <a href=\"/openapi.json\">/openapi.json</a>. \
         Authenticate with <code>Authorization: Bearer &lt;api key&gt;</code>.</p><table>{rows}</table></body></html>",
        escape(&api.info.title),
        escape(api.info.description.as_deref().unwrap_or_default()),
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html)
}
