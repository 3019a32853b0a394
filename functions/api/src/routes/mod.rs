//! HTTP routes, one module per resource.
pub mod ai_systems;
pub mod api_keys;
pub mod audit;
pub mod decisions;
pub mod drift;
pub mod events;
pub mod findings;
pub mod governance;
pub mod notifications;
pub mod reclassify;
pub mod resilience;
pub mod sources;
pub mod stats;
pub mod webhooks;

use axum::Json;
use serde_json::{Value, json};

#[utoipa::path(
    get,
    path = "/health",
    tag = "meta",
    operation_id = "meta_health",
    summary = "Liveness",
    description = "Role: none (no key needed).",
    responses((status = 200, description = "Up", body = crate::openapi::Health), crate::openapi::ReadErrors),
    security(()),
)]
pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub use crate::http::parse_json;
