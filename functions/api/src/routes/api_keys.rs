//! API key management (admin only). A new key's secret is in the create answer only.
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing;
use axum::{Json, Router};
use serde_json::{Value, json};
use vigil_shared::domain::{ApiKeyRecord, FieldError, Role};
use vigil_shared::repo::apikeys;
use vigil_shared::service::api_keys;

use super::parse_json;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::http::RequestId;
use crate::state::AppState;

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Admin)?;
    let value = parse_json(&body)?;
    let role = match value.get("role") {
        Some(Value::String(r)) => Role::parse(r)
            .ok_or_else(|| ApiError::field("role", "must be admin, analyst or viewer"))?,
        _ => {
            return Err(ApiError::Invalid(vec![FieldError::new(
                "role",
                "is required: admin, analyst or viewer",
            )]));
        }
    };
    let name = match value.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.len() <= 128 => Some(s.clone()),
        Some(_) => {
            return Err(ApiError::field(
                "name",
                "must be a string of at most 128 characters",
            ));
        }
    };
    let (record, plaintext) = api_keys::create(
        state.store.as_ref(),
        &caller.origin(&request_id),
        role,
        name,
        state.clock.now(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": record.id,
            "role": record.role,
            "name": record.name,
            "created_at": record.created_at,
            "key": plaintext,
        })),
    ))
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ApiKeyRecord>>, ApiError> {
    caller.require(Role::Admin)?;
    Ok(Json(
        apikeys::list(state.store.as_ref(), &caller.tenant).await?,
    ))
}

pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    api_keys::revoke(
        state.store.as_ref(),
        &caller.origin(&request_id),
        &id,
        state.clock.now(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// This module's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/keys", routing::post(create).get(list))
        .route("/keys/{id}", routing::delete(revoke))
}
