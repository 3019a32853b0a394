//! Runtime AI governance: the model and prompt registries (register, list, read with
//! history, and `submit | approve | reject | retire`) and the failure counts. Bodies
//! parse into a `ModelSpec` / `PromptSpec`; `service::governance` decides the rest.
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use vigil_shared::domain::Role;
use vigil_shared::governance::failures;
use vigil_shared::governance::registry::{
    Action, Kind, ModelSpec, PromptSpec, Spec, State as VersionState, wants_submit,
};
use vigil_shared::repo::governance::{self as repo, Versioned};
use vigil_shared::service::governance as service;

use super::parse_json;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::http::RequestId;
use crate::http::body::{JsonBody, OptionalJsonBody};
use crate::params::{Params, page_json};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

fn view(v: &Versioned) -> Value {
    let mut out = serde_json::to_value(&v.record).unwrap_or(Value::Null);
    if let Some(o) = out.as_object_mut() {
        o.insert("item_version".into(), json!(v.version));
    }
    out
}

fn plural(kind: Kind) -> &'static str {
    match kind {
        Kind::Model => "models",
        Kind::Prompt => "prompts",
    }
}

async fn register(
    state: AppState,
    caller: Caller,
    request_id: RequestId,
    body: &[u8],
    kind: Kind,
) -> Result<Response, ApiError> {
    caller.require(service::required_role(Action::Register))?;
    let value = parse_json(body)?;
    let spec = match kind {
        Kind::Model => Spec::Model(ModelSpec::from_json(&value).map_err(ApiError::Invalid)?),
        Kind::Prompt => Spec::Prompt(PromptSpec::from_json(&value).map_err(ApiError::Invalid)?),
    };
    let submit = wants_submit(&value).map_err(ApiError::Invalid)?;
    if submit {
        caller.require(service::required_role(Action::Submit))?;
    }
    let v = service::register(
        state.store.as_ref(),
        &caller.origin(&request_id),
        spec,
        submit,
        state.clock.now(),
    )
    .await?;
    let mut resp = (StatusCode::CREATED, Json(view(&v))).into_response();
    let location = format!("/governance/{}/{}", plural(kind), v.record.id);
    if let Ok(loc) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

/// Audited as `governance.model.register` (and `governance.model.submit` with
/// `"submit": true`).
#[utoipa::path(
    post,
    path = "/governance/models",
    tag = "governance",
    operation_id = "governance_models_create",
    summary = "Register a model version (a draft, or submitted at once with \"submit\": true)",
    description = "Role: analyst. `(name, version)` is unique per tenant; a version never changes once registered.",
    request_body(content = crate::openapi::ModelIn, content_type = "application/json"),
    responses((status = 201, description = "The version, with its state and history", body = crate::openapi::RegistryVersion), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn create_model(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    register(state, caller, request_id, &body, Kind::Model).await
}

/// Audited as `governance.prompt.register` (and `governance.prompt.submit`).
#[utoipa::path(
    post,
    path = "/governance/prompts",
    tag = "governance",
    operation_id = "governance_prompts_create",
    summary = "Register a prompt version; Vigil computes its SHA-256",
    description = "Role: analyst. An `enrichment` prompt must contain `{{finding}}`.",
    request_body(content = crate::openapi::PromptIn, content_type = "application/json"),
    responses((status = 201, description = "The version, with its state and history", body = crate::openapi::RegistryVersion), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn create_prompt(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    register(state, caller, request_id, &body, Kind::Prompt).await
}

async fn list(
    state: AppState,
    caller: Caller,
    mut p: Params,
    kind: Kind,
) -> Result<Json<Value>, ApiError> {
    let wanted = p.parsed(
        "state",
        VersionState::parse,
        "draft, pending_approval, approved, rejected, retired",
    );
    let (limit, cursor) =
        p.finish_page(100, 20, &repo::list_query(&caller.tenant, kind, wanted))?;
    let page = repo::list(
        state.store.as_ref(),
        &caller.tenant,
        kind,
        wanted,
        limit,
        cursor,
    )
    .await?;
    let items = page
        .items
        .iter()
        .map(|i| {
            repo::from_item(i).map(|record| {
                view(&Versioned {
                    record,
                    version: i.version,
                })
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(page_json(items, Some(limit), page.next.as_ref()))
}

#[utoipa::path(
    get,
    path = "/governance/models",
    tag = "governance",
    operation_id = "governance_models_list",
    summary = "Model versions, newest first",
    description = "Role: viewer.",
    params(("state" = Option<String>, Query, description = "draft, pending_approval, approved, rejected, retired"), crate::openapi::PageQuery),
    responses((status = 200, description = "A page of versions", body = crate::openapi::Page), crate::openapi::ReadErrors),
)]
pub async fn list_models(
    State(state): State<AppState>,
    caller: Caller,
    p: Params,
) -> Result<Json<Value>, ApiError> {
    list(state, caller, p, Kind::Model).await
}

#[utoipa::path(
    get,
    path = "/governance/prompts",
    tag = "governance",
    operation_id = "governance_prompts_list",
    summary = "Prompt versions, newest first",
    description = "Role: viewer.",
    params(("state" = Option<String>, Query, description = "draft, pending_approval, approved, rejected, retired"), crate::openapi::PageQuery),
    responses((status = 200, description = "A page of versions", body = crate::openapi::Page), crate::openapi::ReadErrors),
)]
pub async fn list_prompts(
    State(state): State<AppState>,
    caller: Caller,
    p: Params,
) -> Result<Json<Value>, ApiError> {
    list(state, caller, p, Kind::Prompt).await
}

async fn get(
    state: AppState,
    caller: Caller,
    id: &str,
    kind: Kind,
) -> Result<Json<Value>, ApiError> {
    let v = repo::get(state.store.as_ref(), &caller.tenant, kind, id)
        .await?
        .ok_or(ApiError::NotFound(kind.resource()))?;
    Ok(Json(view(&v)))
}

#[utoipa::path(
    get,
    path = "/governance/models/{id}",
    tag = "governance",
    operation_id = "governance_models_get",
    summary = "One model version with its history",
    description = "Role: viewer.",
    params(crate::openapi::IdPath),
    responses((status = 200, description = "The version", body = crate::openapi::RegistryVersion), crate::openapi::ReadErrors),
)]
pub async fn get_model(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    get(state, caller, &id, Kind::Model).await
}

#[utoipa::path(
    get,
    path = "/governance/prompts/{id}",
    tag = "governance",
    operation_id = "governance_prompts_get",
    summary = "One prompt version with its history",
    description = "Role: viewer.",
    params(crate::openapi::IdPath),
    responses((status = 200, description = "The version", body = crate::openapi::RegistryVersion), crate::openapi::ReadErrors),
)]
pub async fn get_prompt(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    get(state, caller, &id, Kind::Prompt).await
}

/// The optional `{"reason": "..."}` body of a move or review.
pub(crate) fn reason_of(body: &[u8]) -> Result<Option<String>, ApiError> {
    if body.is_empty() {
        return Ok(None);
    }
    match parse_json(body)? {
        Value::Object(o) => match o.get("reason") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ApiError::field("reason", "must be a string")),
        },
        _ => Err(ApiError::field("body", "must be a JSON object")),
    }
}

async fn act(
    state: AppState,
    caller: Caller,
    request_id: RequestId,
    id: &str,
    action: &str,
    body: &[u8],
    kind: Kind,
) -> Result<Json<Value>, ApiError> {
    let action = Action::parse(action).ok_or(ApiError::NotFound("route"))?;
    caller.require(service::required_role(action))?;
    let reason = service::parse_reason(action, reason_of(body)?.as_deref())?;
    let v = service::act(
        state.store.as_ref(),
        &caller.origin(&request_id),
        kind,
        id,
        action,
        reason,
        state.clock.now(),
    )
    .await?;
    Ok(Json(view(&v)))
}

/// Audited as `governance.model.<action>`; a refused decision is audited as denied.
#[utoipa::path(
    post,
    path = "/governance/models/{id}/{action}",
    tag = "governance",
    operation_id = "governance_models_act",
    summary = "Move a model version: submit, approve, reject or retire",
    description = "Role: analyst to submit; approver (or admin) to approve, reject or retire. Nobody approves or rejects a version they registered or submitted (403 four-eyes). A rejection needs a `reason`. A move the version's state does not allow is 409.",
    params(crate::openapi::IdPath, ("action" = String, Path, description = "submit, approve, reject or retire")),
    request_body(content = Option<crate::openapi::ReasonIn>, content_type = "application/json"),
    responses((status = 200, description = "The version after the move", body = crate::openapi::RegistryVersion), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn act_model(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    Path((id, action)): Path<(String, String)>,
    OptionalJsonBody(body): OptionalJsonBody,
) -> Result<Json<Value>, ApiError> {
    act(state, caller, request_id, &id, &action, &body, Kind::Model).await
}

/// Audited as `governance.prompt.<action>`; a refused decision is audited as denied.
#[utoipa::path(
    post,
    path = "/governance/prompts/{id}/{action}",
    tag = "governance",
    operation_id = "governance_prompts_act",
    summary = "Move a prompt version: submit, approve, reject or retire",
    description = "Role: analyst to submit; approver (or admin) to approve, reject or retire. Nobody approves or rejects a version they registered or submitted (403 four-eyes). A rejection needs a `reason`. A move the version's state does not allow is 409.",
    params(crate::openapi::IdPath, ("action" = String, Path, description = "submit, approve, reject or retire")),
    request_body(content = Option<crate::openapi::ReasonIn>, content_type = "application/json"),
    responses((status = 200, description = "The version after the move", body = crate::openapi::RegistryVersion), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn act_prompt(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    Path((id, action)): Path<(String, String)>,
    OptionalJsonBody(body): OptionalJsonBody,
) -> Result<Json<Value>, ApiError> {
    act(state, caller, request_id, &id, &action, &body, Kind::Prompt).await
}

#[utoipa::path(
    get,
    path = "/governance/failures",
    tag = "governance",
    operation_id = "governance_failures",
    summary = "The tenant's failed requests and messages by failure class",
    description = "Role: viewer. Every class is listed (0 when none). A failed stage message counts once however often it is delivered.",
    responses((status = 200, description = "Counts by class", body = crate::openapi::FailureCounts), crate::openapi::ReadErrors),
)]
pub async fn failure_counts(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let counts = failures::counts(state.store.as_ref(), &caller.tenant).await?;
    let total: i64 = counts.values().sum();
    Ok(Json(json!({"counts": counts, "total": total})))
}

/// This module's routes, each with its OpenAPI operation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_model, list_models))
        .routes(routes!(create_prompt, list_prompts))
        .routes(routes!(get_model))
        .routes(routes!(get_prompt))
        .routes(routes!(act_model))
        .routes(routes!(act_prompt))
        .routes(routes!(failure_counts))
}
