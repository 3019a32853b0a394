//! HTTP routes, one module per resource.
pub mod ai_systems;
pub mod audit;
pub mod events;
pub mod findings;
pub mod keys;
pub mod notifications;
pub mod reclassify;
pub mod stats;
pub mod webhooks;

use axum::Json;
use serde_json::{Value, json};

pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Parses a JSON body, mapping failure to a problem response.
pub fn parse_json(body: &[u8]) -> Result<Value, crate::error::ApiError> {
    serde_json::from_slice(body).map_err(|e| crate::error::ApiError::MalformedJson(e.to_string()))
}
