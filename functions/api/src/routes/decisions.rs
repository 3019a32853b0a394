//! Risk and compliance decisions (the seed's `/risk` and `/compliance`): submit, read
//! with every step, list, a human's approve/reject, and the tenant's guardrails. The
//! workflow itself runs on the decide queue (`service::decisions`).
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use vigil_shared::decide::{Ask, Decision, DecisionKind, Guardrails, GuardrailsError, Status};
use vigil_shared::domain::Role;
use vigil_shared::repo::decisions as repo;
use vigil_shared::repo::idempotency;
use vigil_shared::service::decisions as service;

use super::events::idempotency_key;
use super::governance::reason_of;
use super::parse_json;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::http::RequestId;
use crate::http::body::{JsonBody, OptionalJsonBody};
use crate::params::{Params, page_json};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

fn view(d: &Decision, version: u64) -> Value {
    let mut out = serde_json::to_value(d).unwrap_or(Value::Null);
    if let Some(o) = out.as_object_mut() {
        // The body digest is the idempotency check's, not the client's business.
        o.remove("request_hash");
        o.insert("item_version".into(), json!(version));
        o.insert("score".into(), json!(service::score_of(d)));
    }
    out
}

async fn submit(
    state: AppState,
    caller: Caller,
    request_id: RequestId,
    headers: &HeaderMap,
    body: &[u8],
    kind: DecisionKind,
) -> Result<Response, ApiError> {
    caller.require(Role::Analyst)?;
    let key = idempotency_key(headers)?;
    let ask = Ask::parse(kind, &parse_json(body)?).map_err(ApiError::Invalid)?;
    let hash = idempotency::request_hash(kind.as_str(), body);
    let s = service::submit(
        state.store.as_ref(),
        state.queue.as_ref(),
        &caller.origin(&request_id),
        ask,
        key.as_deref(),
        hash,
        state.clock.now(),
    )
    .await?;
    let d = &s.decision;
    let body = json!({"id": d.id, "kind": d.ask.kind, "status": d.status, "correlation_id": d.correlation_id});
    let mut resp = (StatusCode::ACCEPTED, Json(body)).into_response();
    if let Ok(loc) = HeaderValue::from_str(&format!("/risk/{}", d.id)) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    if s.replayed {
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(resp)
}

/// Audited as `decision.received`; each workflow step is audited under the same
/// correlation id (`request_id` of the entries).
#[utoipa::path(
    post,
    path = "/risk",
    tag = "decisions",
    operation_id = "risk_submit",
    summary = "Ask whether an AI use may go ahead",
    description = "Role: analyst. The workflow (retrieval, policy, scoring, guardrails, decision) runs on a queue; poll `GET /risk/{id}` or subscribe to `risk.decided`. A prohibited system, an unapproved model or prompt, or a high-risk system without declared human oversight is rejected; a score above the tenant's `review_above` waits for an approver, above `reject_above` is rejected. With an Idempotency-Key a retry answers the first request (`Idempotent-Replayed: true`).",
    params(("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key and body gets the same request back")),
    request_body(content = crate::openapi::RiskIn, content_type = "application/json"),
    responses((status = 202, description = "Stored and queued", body = crate::openapi::DecisionAccepted), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn submit_risk(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    submit(
        state,
        caller,
        request_id,
        &headers,
        &body,
        DecisionKind::Risk,
    )
    .await
}

/// Audited as `decision.received`, as `POST /risk`.
#[utoipa::path(
    post,
    path = "/compliance",
    tag = "decisions",
    operation_id = "compliance_submit",
    summary = "Ask for a regulatory check of an AI use",
    description = "Role: analyst. As `POST /risk`, with the regulation reference and the compliance type; read the result at `GET /risk/{id}`.",
    params(("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key and body gets the same request back")),
    request_body(content = crate::openapi::ComplianceIn, content_type = "application/json"),
    responses((status = 202, description = "Stored and queued", body = crate::openapi::DecisionAccepted), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn submit_compliance(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    submit(
        state,
        caller,
        request_id,
        &headers,
        &body,
        DecisionKind::Compliance,
    )
    .await
}

#[utoipa::path(
    get,
    path = "/risk/{id}",
    tag = "decisions",
    operation_id = "risk_get",
    summary = "One risk or compliance request with every step's inputs and outputs",
    description = "Role: viewer.",
    params(crate::openapi::IdPath),
    responses((status = 200, description = "The request", body = crate::openapi::DecisionOut), crate::openapi::ReadErrors),
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let v = service::get(state.store.as_ref(), &caller.tenant, &id).await?;
    Ok(Json(view(&v.record, v.version)))
}

#[utoipa::path(
    get,
    path = "/risk",
    tag = "decisions",
    operation_id = "risk_list",
    summary = "Risk and compliance requests, newest first",
    description = "Role: viewer. `status=REQUIRES_APPROVAL` lists what waits for an approver.",
    params(
        ("status" = Option<String>, Query, description = "RECEIVED, VALIDATED, PROCESSING, APPROVED, REJECTED, REQUIRES_APPROVAL or FAILED"),
        ("kind" = Option<String>, Query, description = "risk or compliance"),
        crate::openapi::PageQuery
    ),
    responses((status = 200, description = "A page of requests", body = crate::openapi::Page), crate::openapi::ReadErrors),
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    mut p: Params,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let status = p.parsed(
        "status",
        Status::parse,
        "RECEIVED, VALIDATED, PROCESSING, APPROVED, REJECTED, REQUIRES_APPROVAL, FAILED",
    );
    let kind = p.parsed("kind", DecisionKind::parse, "risk, compliance");
    let (limit, cursor) = p.finish_page(100, 20, &repo::list_query(&caller.tenant, status))?;
    let page = repo::list(
        state.store.as_ref(),
        &caller.tenant,
        status,
        kind,
        limit,
        cursor,
    )
    .await?;
    let items = page
        .items
        .iter()
        .map(|i| repo::from_item(i).map(|d| view(&d, i.version)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(page_json(items, Some(limit), page.next.as_ref()))
}

/// Audited as `decision.review.approve|reject`; a refused review is audited as denied.
#[utoipa::path(
    post,
    path = "/risk/{id}/{action}",
    tag = "decisions",
    operation_id = "risk_review",
    summary = "Approve or reject a request that requires approval",
    description = "Role: approver (or admin). Nobody decides a request they submitted (403 four-eyes). A rejection needs a `reason`. Only a REQUIRES_APPROVAL request can be decided (409 otherwise). Announces `risk.decided`.",
    params(crate::openapi::IdPath, ("action" = String, Path, description = "approve or reject")),
    request_body(content = Option<crate::openapi::ReasonIn>, content_type = "application/json"),
    responses((status = 200, description = "The request after the review", body = crate::openapi::DecisionOut), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn review(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    Path((id, action)): Path<(String, String)>,
    OptionalJsonBody(body): OptionalJsonBody,
) -> Result<Json<Value>, ApiError> {
    let approve = match action.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return Err(ApiError::NotFound("route")),
    };
    caller.require(Role::Approver)?;
    let reason = reason_of(&body)?;
    let store = state.store.as_ref();
    service::decide(
        store,
        state.queue.as_ref(),
        &caller.origin(&request_id),
        &id,
        approve,
        reason,
        state.clock.now(),
    )
    .await?;
    let v = service::get(store, &caller.tenant, &id).await?;
    Ok(Json(view(&v.record, v.version)))
}

#[utoipa::path(
    get,
    path = "/risk/policy",
    tag = "decisions",
    operation_id = "risk_policy_get",
    summary = "The tenant's guardrails",
    description = "Role: viewer. A score above `review_above` needs an approver; above `reject_above` is rejected. Defaults 60 and 90.",
    responses((status = 200, description = "The guardrails", body = crate::openapi::GuardrailsIo), crate::openapi::ReadErrors),
)]
pub async fn get_policy(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let g = repo::guardrails(state.store.as_ref(), &caller.tenant).await?;
    Ok(Json(json!(g)))
}

fn threshold(v: &Value, key: &'static str) -> Result<u8, ApiError> {
    v.get(key)
        .and_then(Value::as_u64)
        .and_then(|n| u8::try_from(n).ok())
        .filter(|n| *n <= 100)
        .ok_or(ApiError::field(key, "must be an integer from 0 to 100"))
}

/// Audited as `decision.guardrails.update`.
#[utoipa::path(
    put,
    path = "/risk/policy",
    tag = "decisions",
    operation_id = "risk_policy_put",
    summary = "Replace the tenant's guardrails",
    description = "Role: admin. Both thresholds, 0–100, `reject_above` at least `review_above`. Applies to requests whose guardrails step runs after the change.",
    request_body(content = crate::openapi::GuardrailsIo, content_type = "application/json"),
    responses((status = 200, description = "The guardrails now", body = crate::openapi::GuardrailsIo), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn put_policy(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let v = parse_json(&body)?;
    let Some(obj) = v.as_object() else {
        return Err(ApiError::field("body", "must be a JSON object"));
    };
    if let Some(k) = obj
        .keys()
        .find(|k| !["review_above", "reject_above"].contains(&k.as_str()))
    {
        return Err(ApiError::field(k, "is not a guardrail"));
    }
    let g = Guardrails::new(
        threshold(&v, "review_above")?,
        threshold(&v, "reject_above")?,
    )
    .map_err(|e| match e {
        GuardrailsError::OutOfRange(k) => ApiError::field(k, e.to_string()),
        GuardrailsError::Inverted => ApiError::field("reject_above", e.to_string()),
    })?;
    let g = service::set_guardrails(
        state.store.as_ref(),
        &caller.origin(&request_id),
        g,
        state.clock.now(),
    )
    .await?;
    Ok(Json(json!(g)))
}

/// This module's routes, each with its OpenAPI operation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(submit_risk, list))
        .routes(routes!(submit_compliance))
        .routes(routes!(get_policy, put_policy))
        .routes(routes!(get))
        .routes(routes!(review))
}
