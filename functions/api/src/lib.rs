//! Vigil's HTTP API. The same router serves API Gateway (through `lambda_http`) and the
//! local `vigil serve` (crate vigil-local).
pub mod auth;
pub mod error;
pub mod http;
pub mod params;
pub mod routes;
pub mod state;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub use state::AppState;

use crate::error::ApiError;

async fn not_found() -> Response {
    ApiError::NotFound("route").into_response()
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(routes::health))
        .route(
            "/events",
            post(routes::events::post).get(routes::events::list),
        )
        .route("/findings", get(routes::findings::list))
        .route(
            "/findings/enrich_all_missing",
            post(routes::findings::enrich_missing),
        )
        .route(
            "/findings/{id}",
            get(routes::findings::get).patch(routes::findings::patch),
        )
        .route(
            "/findings/{id}/enrich_with_ai",
            post(routes::findings::enrich_one),
        )
        .route("/stats/summary", get(routes::stats::summary))
        .route(
            "/keys",
            post(routes::api_keys::create).get(routes::api_keys::list),
        )
        .route(
            "/keys/{id}",
            axum::routing::delete(routes::api_keys::revoke),
        )
        .route(
            "/webhooks",
            post(routes::webhooks::create).get(routes::webhooks::list),
        )
        .route(
            "/webhooks/dead-letters",
            get(routes::webhooks::dead_letters),
        )
        .route(
            "/webhooks/{id}",
            get(routes::webhooks::get)
                .put(routes::webhooks::put)
                .patch(routes::webhooks::patch)
                .delete(routes::webhooks::delete),
        )
        .route(
            "/webhooks/{id}/rotate-secret",
            post(routes::webhooks::rotate_secret),
        )
        .route("/webhooks/{id}/test", post(routes::webhooks::test))
        .route(
            "/webhooks/{id}/deliveries",
            get(routes::webhooks::deliveries),
        )
        .route(
            "/webhooks/{id}/deliveries/{delivery_id}/redeliver",
            post(routes::webhooks::redeliver),
        )
        .route("/audit/entries", get(routes::audit::entries))
        .route("/audit/stats", get(routes::audit::stats))
        .route("/audit/checkpoints", post(routes::audit::create_checkpoint))
        .route(
            "/audit/checkpoints/latest",
            get(routes::audit::latest_checkpoint),
        )
        .route("/audit/proofs/inclusion", get(routes::audit::inclusion))
        .route("/audit/proofs/consistency", get(routes::audit::consistency))
        .route("/audit/verify", post(routes::audit::verify))
        .route("/audit/export", get(routes::audit::export))
        .route("/audit/state", get(routes::audit::state_at))
        .route(
            "/ai-systems",
            post(routes::ai_systems::create).get(routes::ai_systems::list),
        )
        .route(
            "/ai-systems/{id}",
            get(routes::ai_systems::get)
                .put(routes::ai_systems::put)
                .patch(routes::ai_systems::patch)
                .delete(routes::ai_systems::archive),
        )
        .route(
            "/ai-systems/{id}/monitoring",
            get(routes::ai_systems::get_monitoring).patch(routes::ai_systems::patch_monitoring),
        )
        .route(
            "/ai-systems/{id}/drift-events",
            get(routes::ai_systems::drift_events),
        )
        .route("/classify", post(routes::ai_systems::classify_answers))
        .route("/admin/reclassify", post(routes::reclassify::trigger))
        .route("/reclassify-runs", get(routes::reclassify::list))
        .route("/reclassify-runs/{id}", get(routes::reclassify::get))
        .route("/notifications", get(routes::notifications::list))
        .route(
            "/notifications/read-all",
            post(routes::notifications::read_all),
        )
        .route(
            "/notifications/{id}/read",
            post(routes::notifications::read),
        )
        .fallback(not_found)
        // Larger than the API's own limit so oversized bodies get a problem response.
        .layer(DefaultBodyLimit::max(routes::events::MAX_BODY * 2))
        .layer(middleware::from_fn(http::traced))
        .with_state(state)
}
