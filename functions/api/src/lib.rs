//! Vigil's HTTP API. The same router serves API Gateway (through `lambda_http`) and the
//! local `vigil serve` (crate vigil-local).
pub mod auth;
pub mod dashboard;
pub mod error;
pub mod http;
pub mod openapi;
pub mod params;
pub mod routes;
pub mod state;

use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router, middleware};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use state::AppState;

use crate::error::ApiError;
use crate::http::limits::{self, Limits};

async fn not_found() -> Response {
    ApiError::NotFound("route").into_response()
}

/// Prometheus text of the process's metrics, where a renderer is installed.
async fn metrics(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    match &state.metrics {
        Some(render) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            render(),
        )
            .into_response(),
        None => ApiError::NotFound("route").into_response(),
    }
}

/// Every documented operation, with the document they make.
fn operations() -> (Router<AppState>, serde_json::Value) {
    let (router, doc) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(routes::health))
        .merge(routes::events::routes())
        .merge(routes::findings::routes())
        .merge(routes::stats::routes())
        .merge(routes::api_keys::routes())
        .merge(routes::webhooks::routes())
        .merge(routes::audit::routes())
        .merge(routes::ai_systems::routes())
        .merge(routes::reclassify::routes())
        .merge(routes::drift::routes())
        .merge(routes::notifications::routes())
        .merge(routes::resilience::routes())
        .merge(routes::sources::routes())
        .merge(routes::governance::routes())
        .merge(routes::decisions::routes())
        .split_for_parts();
    (router, openapi::document(doc))
}

/// The OpenAPI 3.1 document of the API (`/openapi.json`, `vigil openapi`).
pub fn openapi_document() -> serde_json::Value {
    operations().1
}

pub fn router(state: AppState) -> Router {
    let (api, doc) = operations();
    let doc = Json(doc);
    let limits = Limits::new(state.http.clone());
    api.route("/openapi.json", get(move || async move { doc }))
        .route("/docs", get(openapi::docs))
        .route("/docs/rapidoc-min.js", get(openapi::rapidoc))
        .route("/metrics", get(metrics))
        .route("/", get(dashboard::index))
        .route("/ui/{file}", get(dashboard::asset))
        .fallback(not_found)
        .layer(middleware::from_fn(http::rate_limit::headers))
        .layer(middleware::from_fn_with_state(limits, limits::enforce))
        .layer(middleware::from_fn(http::problems::fallback))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            http::failures::count,
        ))
        .layer(middleware::from_fn(http::traced))
        .with_state(state)
}
