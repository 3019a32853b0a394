//! Vigil's HTTP API. The same router serves API Gateway (through `lambda_http`) and the
//! local `vigil serve`.
pub mod auth;
pub mod error;
pub mod local;
pub mod params;
pub mod routes;
pub mod state;

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub use state::AppState;

use crate::error::ApiError;

async fn access_log(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let started = Instant::now();
    let resp = next.run(req).await;
    tracing::info!(%method, %path, status = resp.status().as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "request");
    resp
}

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
        .route("/keys", post(routes::keys::create).get(routes::keys::list))
        .route("/keys/{id}", axum::routing::delete(routes::keys::revoke))
        .fallback(not_found)
        // Larger than the API's own limit so oversized bodies get a problem response.
        .layer(DefaultBodyLimit::max(routes::events::MAX_BODY * 2))
        .layer(middleware::from_fn(access_log))
        .with_state(state)
}
