use taskflow_platform::testing::documented_routes;

use crate::helpers::*;

/// `/openapi.json` lists exactly the routes the server serves: each documented operation is
/// routed (401 without a key on `/v1`, an answer on `/health`), and every other method on a
/// documented path is 405 with `Allow` naming the documented ones.
#[tokio::test(flavor = "multi_thread")]
async fn the_document_is_served_and_lists_every_route() {
    let app = TestScheduler::spawn().await;
    let (_, listed) = documented_routes(
        &app.http,
        &app.url(""),
        &[
            ("{id}", "0190a1b2-0000-7000-8000-000000000000"),
            ("{job_id}", "0190a1b2-0000-7000-8000-000000000001"),
        ],
    )
    .await;
    assert_eq!(
        listed,
        [
            "DELETE /v1/schedules/{id}",
            "GET /health/live",
            "GET /health/ready",
            "GET /v1/admin/projections/rebuild/{job_id}",
            "GET /v1/schedules",
            "GET /v1/schedules/{id}",
            "GET /v1/schedules/{id}/occurrences",
            "PATCH /v1/schedules/{id}",
            "POST /v1/admin/projections/rebuild",
            "POST /v1/schedules",
            "POST /v1/schedules/{id}/backfill",
            "POST /v1/schedules/{id}/pause",
            "POST /v1/schedules/{id}/resume",
            "POST /v1/schedules/{id}/trigger",
        ]
    );
}
