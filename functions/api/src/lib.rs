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
use axum::routing::get;

pub use state::AppState;

use crate::error::ApiError;

async fn not_found() -> Response {
    ApiError::NotFound("route").into_response()
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(routes::health))
        .merge(routes::events::routes())
        .merge(routes::findings::routes())
        .merge(routes::stats::routes())
        .merge(routes::api_keys::routes())
        .merge(routes::webhooks::routes())
        .merge(routes::audit::routes())
        .merge(routes::ai_systems::routes())
        .merge(routes::reclassify::routes())
        .merge(routes::notifications::routes())
        .fallback(not_found)
        // Larger than the API's own limit so oversized bodies get a problem response.
        .layer(DefaultBodyLimit::max(routes::events::MAX_BODY * 2))
        .layer(middleware::from_fn(http::traced))
        .with_state(state)
}
