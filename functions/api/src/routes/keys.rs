//! API key management (admin only). A new key's secret is in the create answer only.
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use vigil_shared::audit::Actor;
use vigil_shared::domain::{ApiKeyRecord, FieldError, Role};
use vigil_shared::repo::apikeys;

use super::audit::RequestId;
use super::parse_json;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    RequestId(request_id): RequestId,
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
    let (record, plaintext) = apikeys::create_by(
        state.store.as_ref(),
        &caller.tenant,
        role,
        name,
        &Actor::key(&caller.key_id),
        Some(request_id),
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
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let revoked = apikeys::revoke_by(
        state.store.as_ref(),
        &caller.tenant,
        &id,
        &Actor::key(&caller.key_id),
        Some(request_id),
        state.clock.now(),
    )
    .await?;
    if revoked {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("API key"))
    }
}
