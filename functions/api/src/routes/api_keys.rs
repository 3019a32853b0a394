//! API key management (admin only) and `GET /whoami` (any key: its own role). A new key's secret is in the create answer only.
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use vigil_shared::domain::validation::has_control;
use vigil_shared::domain::{ApiKeyRecord, FieldError, Role};
use vigil_shared::repo::apikeys;
use vigil_shared::service::api_keys;

use super::parse_json;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::http::RequestId;
use crate::http::body::JsonBody;
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[utoipa::path(
    post,
    path = "/keys",
    tag = "keys",
    operation_id = "keys_create",
    summary = "Create an API key (its secret is in this answer only)",
    description = "Role: admin.",
    request_body(content = crate::openapi::KeyIn, content_type = "application/json"),
    responses((status = 201, description = "The key and its secret", body = crate::openapi::KeyCreated), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Admin)?;
    let value = parse_json(&body)?;
    let role = match value.get("role") {
        Some(Value::String(r)) => Role::parse(r)
            .ok_or_else(|| ApiError::field("role", "must be admin, approver, analyst or viewer"))?,
        _ => {
            return Err(ApiError::Invalid(vec![FieldError::new(
                "role",
                "is required: admin, approver, analyst or viewer",
            )]));
        }
    };
    let name = match value.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.len() <= 128 && !has_control(s) => Some(s.clone()),
        Some(_) => {
            return Err(ApiError::field(
                "name",
                "must be a string of at most 128 characters, none a control character",
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

#[utoipa::path(
    get,
    path = "/keys",
    tag = "keys",
    operation_id = "keys_list",
    summary = "The tenant's keys (never their secrets)",
    description = "Role: admin.",
    responses((status = 200, description = "Every key", body = Vec<crate::openapi::Object>), crate::openapi::ReadErrors),
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ApiKeyRecord>>, ApiError> {
    caller.require(Role::Admin)?;
    Ok(Json(
        apikeys::list(state.store.as_ref(), &caller.tenant).await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/keys/{id}",
    tag = "keys",
    operation_id = "keys_revoke",
    summary = "Revoke a key; a revoked key is not found again",
    description = "Role: admin.",
    params(crate::openapi::IdPath),
    responses((status = 204, description = "Revoked"), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
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

#[utoipa::path(
    get,
    path = "/whoami",
    tag = "keys",
    operation_id = "keys_whoami",
    summary = "The calling key: its tenant, id and role",
    description = "Role: viewer. What the dashboard asks to decide which buttons to show; never the secret.",
    responses((status = 200, description = "The calling key", body = crate::openapi::WhoAmI), crate::openapi::ReadErrors),
)]
pub async fn whoami(caller: Caller) -> Json<Value> {
    Json(json!({
        "tenant": caller.tenant,
        "key_id": caller.key_id,
        "role": caller.role,
    }))
}

/// This module's routes, each with its OpenAPI operation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(revoke))
        .routes(routes!(whoami))
}
