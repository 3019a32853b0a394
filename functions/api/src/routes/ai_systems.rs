//! The AI-system registry: create, list, read, replace (PUT), merge-patch (PATCH,
//! RFC 7396), archive (DELETE), monitoring settings, drift events and `POST /classify`.
//! Reads carry an `ETag` (the item version); writes honour `If-Match` (412 on mismatch).
//! Bodies parse into an [`AiSystemSpec`]; `service::ai_systems` does the rest.
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde_json::{Value, json};
use vigil_shared::classifier::{Answers, RiskLevel, classify};
use vigil_shared::domain::{AiSystemSpec, FieldError, Role};
use vigil_shared::repo::ai_systems::{self, SystemFilter, Versioned};
use vigil_shared::repo::drift_events;
use vigil_shared::service::ai_systems::{self as service, Change};

use super::parse_json;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::http::body::JsonBody;
use crate::http::{RequestId, if_match, with_etag};
use crate::params::{Params, check_cursor, page_json};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

fn view(v: &Versioned) -> Value {
    ai_systems::snapshot(&v.system, v.version)
}

fn represented(status: StatusCode, v: &Versioned) -> Response {
    with_etag((status, Json(view(v))).into_response(), v.version)
}

fn monitoring(v: &Versioned) -> Response {
    with_etag(Json(&v.system.monitoring).into_response(), v.version)
}

/// Audited as `ai_system.create`.
#[utoipa::path(
    post,
    path = "/ai-systems",
    tag = "ai-systems",
    operation_id = "ai_systems_create",
    summary = "Register an AI system (classified at once if it has answers)",
    description = "Role: analyst.",
    request_body(content = crate::openapi::AiSystemIn, content_type = "application/json"),
    responses((status = 201, description = "The system; ETag is its version", body = crate::openapi::Object), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    caller.require(Role::Analyst)?;
    let spec = AiSystemSpec::from_json(&parse_json(&body)?).map_err(ApiError::Invalid)?;
    let v = service::create(
        state.store.as_ref(),
        &caller.origin(&request_id),
        spec,
        state.clock.now(),
    )
    .await?;
    let mut resp = represented(StatusCode::CREATED, &v);
    if let Ok(loc) = HeaderValue::from_str(&format!("/ai-systems/{}", v.system.id)) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

#[utoipa::path(
    get,
    path = "/ai-systems",
    tag = "ai-systems",
    operation_id = "ai_systems_list",
    summary = "AI systems",
    description = "Role: viewer.",
    params(("risk_level" = Option<String>, Query, description = "unacceptable, high, limited, minimal"), ("monitoring_enabled" = Option<String>, Query, description = "true or false"), crate::openapi::PageQuery),
    responses((status = 200, description = "A page of systems", body = crate::openapi::Page), crate::openapi::ReadErrors),
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    mut p: Params,
) -> Result<Json<Value>, ApiError> {
    let filter = SystemFilter {
        level: p.parsed(
            "risk_level",
            RiskLevel::parse,
            "unacceptable, high, limited, minimal",
        ),
        monitoring: p.parsed(
            "monitoring_enabled",
            |s| match s {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            "true, false",
        ),
    };
    let (limit, cursor) =
        p.finish_page(100, 20, &ai_systems::list_query(&caller.tenant, &filter))?;
    let got =
        ai_systems::list(state.store.as_ref(), &caller.tenant, &filter, limit, cursor).await?;
    let items = got
        .items
        .iter()
        .map(|i| {
            ai_systems::from_item(i).map(|s| {
                view(&Versioned {
                    system: s,
                    version: i.version,
                })
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(page_json(items, Some(limit), got.next.as_ref()))
}

async fn load(state: &AppState, caller: &Caller, id: &str) -> Result<Versioned, ApiError> {
    ai_systems::get(state.store.as_ref(), &caller.tenant, id)
        .await?
        .ok_or(ApiError::NotFound("AI system"))
}

#[utoipa::path(
    get,
    path = "/ai-systems/{id}",
    tag = "ai-systems",
    operation_id = "ai_systems_get",
    summary = "One AI system; ETag is its version",
    description = "Role: viewer.",
    params(crate::openapi::IdPath),
    responses((status = 200, description = "The system", body = crate::openapi::Object), crate::openapi::ReadErrors),
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(represented(
        StatusCode::OK,
        &load(&state, &caller, &id).await?,
    ))
}

/// Applies one change at the version the client pinned with `If-Match`, if any; the caller
/// has checked the role and parsed the header.
async fn change(
    state: &AppState,
    caller: &Caller,
    request_id: &RequestId,
    id: &str,
    wanted: Option<Vec<u64>>,
    change: Change,
) -> Result<Versioned, ApiError> {
    Ok(service::update(
        state.store.as_ref(),
        &caller.origin(request_id),
        id,
        wanted.as_deref(),
        &change,
        state.clock.now(),
    )
    .await?)
}

/// [`change`] from a JSON body: the role and `If-Match` are judged before the body.
async fn change_from_body(
    state: &AppState,
    caller: &Caller,
    request_id: &RequestId,
    id: &str,
    headers: &HeaderMap,
    body: &[u8],
    to_change: impl FnOnce(Value) -> Result<Change, ApiError>,
) -> Result<Versioned, ApiError> {
    caller.require(Role::Analyst)?;
    let wanted = if_match(headers)?;
    let to = to_change(parse_json(body)?)?;
    change(state, caller, request_id, id, wanted, to).await
}

/// Full replace: every editable field takes the body's value (absent: empty/none).
#[utoipa::path(
    put,
    path = "/ai-systems/{id}",
    tag = "ai-systems",
    operation_id = "ai_systems_put",
    summary = "Replace every editable field",
    description = "Role: analyst.",
    params(crate::openapi::IdPath, crate::openapi::IfMatch),
    request_body(content = crate::openapi::AiSystemIn, content_type = "application/json"),
    responses((status = 200, description = "The system after the change", body = crate::openapi::Object), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let v = change_from_body(&state, &caller, &request_id, &id, &headers, &body, |json| {
        let spec = AiSystemSpec::from_json(&json).map_err(ApiError::Invalid)?;
        Ok(Change::Replace(spec))
    })
    .await?;
    Ok(represented(StatusCode::OK, &v))
}

#[utoipa::path(
    patch,
    path = "/ai-systems/{id}",
    tag = "ai-systems",
    operation_id = "ai_systems_patch",
    summary = "Merge-patch (RFC 7396) the editable fields",
    description = "Role: analyst.",
    params(crate::openapi::IdPath, crate::openapi::IfMatch),
    request_body(content = crate::openapi::Object, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The system after the change", body = crate::openapi::Object), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let to = |json| Ok(Change::Patch(json));
    let v = change_from_body(&state, &caller, &request_id, &id, &headers, &body, to).await?;
    Ok(represented(StatusCode::OK, &v))
}

/// Archives: the system leaves listings and monitoring, and frees its name.
#[utoipa::path(
    delete,
    path = "/ai-systems/{id}",
    tag = "ai-systems",
    operation_id = "ai_systems_archive",
    summary = "Archive: leaves listings and monitoring, frees the name",
    description = "Role: analyst.",
    params(crate::openapi::IdPath, crate::openapi::IfMatch),
    responses((status = 204, description = "Archived"), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn archive(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Analyst)?;
    let wanted = if_match(&headers)?;
    change(&state, &caller, &request_id, &id, wanted, Change::Archive).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/ai-systems/{id}/monitoring",
    tag = "ai-systems",
    operation_id = "ai_systems_get_monitoring",
    summary = "Monitoring settings",
    description = "Role: viewer.",
    params(crate::openapi::IdPath),
    responses((status = 200, description = "The settings", body = crate::openapi::Object), crate::openapi::ReadErrors),
)]
pub async fn get_monitoring(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(monitoring(&load(&state, &caller, &id).await?))
}

#[utoipa::path(
    patch,
    path = "/ai-systems/{id}/monitoring",
    tag = "ai-systems",
    operation_id = "ai_systems_patch_monitoring",
    summary = "Change monitoring settings",
    description = "Role: analyst.",
    params(crate::openapi::IdPath, crate::openapi::IfMatch),
    request_body(content = crate::openapi::Object, content_type = "application/json"),
    responses((status = 200, description = "The settings after the change", body = crate::openapi::Object), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn patch_monitoring(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let to = |json| Ok(Change::Monitoring(json));
    let v = change_from_body(&state, &caller, &request_id, &id, &headers, &body, to).await?;
    Ok(monitoring(&v))
}

#[utoipa::path(
    get,
    path = "/ai-systems/{id}/drift-events",
    tag = "ai-systems",
    operation_id = "ai_systems_drift_events",
    summary = "Drift recorded by re-classification",
    description = "Role: viewer.",
    params(crate::openapi::IdPath, crate::openapi::PageQuery),
    responses((status = 200, description = "A page of drift events", body = crate::openapi::Page), crate::openapi::ReadErrors),
)]
pub async fn drift_events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    mut p: Params,
) -> Result<Json<Value>, ApiError> {
    let (limit, cursor) = p.page(100, 20);
    p.finish()?;
    // Another tenant's system is simply not found.
    load(&state, &caller, &id).await?;
    check_cursor(
        cursor.as_ref(),
        &drift_events::list_query(&caller.tenant, &id),
    )?;
    let (items, next) =
        drift_events::list(state.store.as_ref(), &caller.tenant, &id, limit, cursor).await?;
    Ok(page_json(items, Some(limit), next.as_ref()))
}

/// Classifies answers without storing anything. `as_of` (YYYY-MM-DD) defaults to today.
#[utoipa::path(
    post,
    path = "/classify",
    tag = "ai-systems",
    operation_id = "ai_systems_classify_answers",
    summary = "Classify answers under the EU AI Act without storing anything",
    description = "Role: viewer.",
    request_body(content = crate::openapi::ClassifyIn, content_type = "application/json"),
    responses((status = 200, description = "The answers read and the classification", body = crate::openapi::ClassifyOut), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn classify_answers(
    State(state): State<AppState>,
    _caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    let value = parse_json(&body)?;
    let obj = value
        .as_object()
        .ok_or_else(|| ApiError::field("", "body must be a JSON object"))?;
    let mut errors = Vec::new();
    for k in obj.keys() {
        if k != "answers" && k != "as_of" {
            errors.push(FieldError::new(
                k,
                "is not a field of a classification request",
            ));
        }
    }
    let answers = match obj.get("answers") {
        Some(v) => Answers::parse(v, "answers", Answers::default()).unwrap_or_else(|e| {
            errors.extend(e);
            Answers::default()
        }),
        None => {
            errors.push(FieldError::new("answers", "is required"));
            Answers::default()
        }
    };
    let as_of = match obj.get("as_of") {
        None | Some(Value::Null) => state.clock.now().date_naive(),
        Some(Value::String(s)) => NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|_| {
            errors.push(FieldError::new("as_of", "must be a YYYY-MM-DD date"));
            state.clock.now().date_naive()
        }),
        Some(_) => {
            errors.push(FieldError::new("as_of", "must be a YYYY-MM-DD date"));
            state.clock.now().date_naive()
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let c = classify(&answers, as_of);
    Ok(Json(json!({"answers": answers, "classification": c})))
}

/// This module's routes, each with its OpenAPI operation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get, put, patch, archive))
        .routes(routes!(get_monitoring, patch_monitoring))
        .routes(routes!(drift_events))
        .routes(routes!(classify_answers))
}
