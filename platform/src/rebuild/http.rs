//! The two admin routes of a rebuild, ready to mount: `POST /v1/admin/projections/rebuild`
//! (202 + `Location`, the job) and `GET /v1/admin/projections/rebuild/{job_id}` (200, the job;
//! 404), both behind the service's admin token.
//!
//! A service without an admin token configured answers both with 403 `admin-disabled` (saying
//! to set `TASKFLOW_ADMIN_TOKEN`): the routes exist, so a 404 would mislead, and no credential
//! the caller could send would help, so a 401 would too. A missing or wrong token is 401
//! `unauthorized`, as svc-tasks' admin routes answer.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::error::RebuildError;
use super::{Projection, Rebuilder};
use crate::config::{ConfigError, Setting, Vars};
use crate::http::bearer::bearer;
use crate::http::errors::{self, ApiError};
use crate::problem::{DatabaseFailure, Problem, no_route, unavailable};

/// Where jobs are started; a job's status resource is below it ([`job_location`]).
pub const COLLECTION_PATH: &str = "/v1/admin/projections/rebuild";

/// A job's status resource, as `Location` names it.
pub fn job_location(id: Uuid) -> String {
    format!("{COLLECTION_PATH}/{id}")
}

/// The admin token setting of svc-executor, svc-notify and svc-scheduler: optional there (their
/// admin routes are off without it), unlike svc-tasks, which does not start without one.
pub const ADMIN_TOKEN: Setting = Setting::or(
    "TASKFLOW_ADMIN_TOKEN",
    "",
    "bearer token of /v1/admin/* (projection rebuilds; at least 16 characters, as svc-tasks asks); empty: those routes answer 403",
);

/// Shortest admin token accepted, as svc-tasks asks of its own.
pub const MIN_ADMIN_TOKEN: usize = 16;

/// The operator's token (`TASKFLOW_ADMIN_TOKEN`), or none when the service has none configured.
#[derive(Clone, Default)]
pub struct AdminToken(Option<String>);

impl AdminToken {
    /// `None` or an empty token: admin routes are off.
    pub fn new(token: Option<String>) -> Self {
        Self(token.filter(|t| !t.is_empty()))
    }

    /// [`ADMIN_TOKEN`] as configured: empty turns the admin routes off; a token shorter than
    /// [`MIN_ADMIN_TOKEN`] is refused (the service does not start).
    pub fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        let token = ADMIN_TOKEN.read(vars)?;
        if !token.is_empty() && token.chars().count() < MIN_ADMIN_TOKEN {
            return Err(ConfigError::Invalid {
                name: ADMIN_TOKEN.name,
                value: "<hidden>".into(),
                reason: format!(
                    "must be at least {MIN_ADMIN_TOKEN} characters, or empty to turn the admin routes off"
                ),
            });
        }
        Ok(Self::new(Some(token)))
    }

    /// Whether the request carries the token; 403 when there is none configured, 401 when the
    /// request's is missing or another.
    pub fn check(&self, req: &HttpRequest) -> Result<(), ApiError> {
        let Some(expected) = &self.0 else {
            return Err(ApiError(Problem::new(
                StatusCode::FORBIDDEN,
                "admin-disabled",
                "Admin endpoints are off",
                "this service has no admin token configured (TASKFLOW_ADMIN_TOKEN); set one to use its admin endpoints",
            )));
        };
        match bearer(req) {
            Some(token) if same(token, expected) => Ok(()),
            _ => Err(errors::unauthorized(
                "unauthorized",
                "admin endpoints need Authorization: Bearer <admin token>",
            )),
        }
    }
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = if self.0.is_some() { "<set>" } else { "<none>" };
        f.debug_tuple("AdminToken").field(&shown).finish()
    }
}

/// Compares digests, in time that does not depend on where they differ.
fn same(presented: &str, expected: &str) -> bool {
    let a = Sha256::digest(presented.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

struct Routes<P> {
    rebuilder: Rebuilder<P>,
    admin: AdminToken,
}

const DATABASE: DatabaseFailure<'static> = DatabaseFailure {
    unavailable: "the database is unavailable; nothing was started or read, retry",
    internal: "the rebuild job could not be started or read",
};

fn answer(e: RebuildError) -> ApiError {
    match e {
        RebuildError::NotFound(id) => errors::not_found(format!("no projection rebuild job {id}")),
        RebuildError::Ending => ApiError(unavailable(
            "a projection rebuild is ending just now; retry to start a new one",
        )),
        e => ApiError::database(&DATABASE, &e, e.is_transient()),
    }
}

async fn start<P: Projection>(
    req: HttpRequest,
    routes: web::Data<Routes<P>>,
) -> Result<HttpResponse, ApiError> {
    routes.admin.check(&req)?;
    let started = routes.rebuilder.start().await.map_err(answer)?;
    let job = started.job();
    Ok(HttpResponse::Accepted()
        .insert_header((LOCATION, job_location(job.job_id)))
        .json(job))
}

async fn status<P: Projection>(
    req: HttpRequest,
    routes: web::Data<Routes<P>>,
    job_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    routes.admin.check(&req)?;
    let Ok(id) = job_id.parse::<Uuid>() else {
        return Err(errors::not_found(format!(
            "no projection rebuild job {:?}: job ids are UUIDs",
            job_id.as_str()
        )));
    };
    let job = routes.rebuilder.status(id).await.map_err(answer)?;
    Ok(HttpResponse::Ok().json(job))
}

fn only(allow: &'static str) -> impl Fn(HttpRequest) -> std::future::Ready<HttpResponse> + Clone {
    move |req: HttpRequest| std::future::ready(no_route(req.method(), req.path(), Some(allow), ""))
}

/// Mounts both routes for `rebuilder`'s projection, guarded by `admin`:
/// `App::new().configure(rebuild::routes(rebuilder, admin))` (or inside a service's own
/// `configure`). Another method on either path is a 405 problem with `Allow`.
pub fn routes<P: Projection>(
    rebuilder: Rebuilder<P>,
    admin: AdminToken,
) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        let routes = web::Data::new(Routes { rebuilder, admin });
        cfg.service(
            web::resource(COLLECTION_PATH)
                .app_data(routes.clone())
                .route(web::post().to(start::<P>))
                .default_service(web::to(only("POST"))),
        )
        .service(
            web::resource(format!("{COLLECTION_PATH}/{{job_id}}"))
                .app_data(routes)
                .route(web::get().to(status::<P>))
                .default_service(web::to(only("GET"))),
        );
    }
}
