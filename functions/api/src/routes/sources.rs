//! Log sources: management (`POST /sources`, admin; reading, every role) and the push
//! endpoints the sources themselves call.
//!
//! A push endpoint is `/sources/{id}/<kind>`: the path names the source (its id carries
//! the tenant), and the source's secret authenticates the request, since GitHub and Okta
//! cannot send a Vigil API key. GitHub signs the exact body (`X-Hub-Signature-256`);
//! Okta event hooks send the secret as the `Authorization` header value; CloudTrail
//! pushes and the GitHub audit-log stream send `Authorization: Bearer <secret>`. Accepted
//! records take the same durable ingest queue as `POST /events`: a 202 means they are
//! on it. Event ids derive from each record's own id (or its digest), so a redelivery
//! is stored once.
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use vigil_shared::domain::event::TimeBounds;
use vigil_shared::domain::{Event, Role, TenantId};
use vigil_shared::repo::events as event_repo;
use vigil_shared::repo::sources as repo;
use vigil_shared::service::ServiceError;
use vigil_shared::service::sources as service;
use vigil_shared::sources::source::tenant_of;
use vigil_shared::sources::{
    self, MAX_INFLATED_BYTES, Normalized, Source, SourceKind, SourceSpec, github,
};
use vigil_shared::webhooks::SecretKey;

use super::events::enqueue;
use super::parse_json;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::http::RequestId;
use crate::http::body::{JsonBody, RawBody};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Dead letters shown by `GET /sources/{id}`.
const DEAD_LETTERS_SHOWN: usize = 20;

fn secret_key(state: &AppState) -> Result<&SecretKey, ApiError> {
    state
        .webhooks
        .secret_key
        .as_ref()
        .ok_or(ApiError::NotConfigured("VIGIL_SECRET_KEY"))
}

fn bounds(state: &AppState) -> TimeBounds {
    TimeBounds {
        now: state.clock.now(),
        max_age: state.event_max_age,
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The source a push path names, of the kind the path says; 404 otherwise.
async fn pushed(state: &AppState, id: &str, kind: SourceKind) -> Result<Source, ApiError> {
    let tenant = tenant_of(id).ok_or(ApiError::NotFound("source"))?;
    repo::get(state.store.as_ref(), &tenant, id)
        .await?
        .map(|v| v.value)
        .filter(|s| s.spec.kind == kind)
        .ok_or(ApiError::NotFound("source"))
}

/// Checks the `Authorization` header holds one of the source's secrets in force.
fn require_secret(state: &AppState, source: &Source, headers: &HeaderMap) -> Result<(), ApiError> {
    let presented = header_str(headers, "authorization").unwrap_or_default();
    let ok = source
        .accepts_secret(secret_key(state)?, presented, state.clock.now())
        .map_err(ServiceError::from)?;
    if ok {
        Ok(())
    } else {
        Err(ApiError::BadSignature("Authorization"))
    }
}

/// The body, inflated when sent with `Content-Encoding: gzip`.
fn decoded(headers: &HeaderMap, body: Bytes) -> Result<Vec<u8>, ApiError> {
    match header_str(headers, "content-encoding").map(|e| e.trim().to_ascii_lowercase()) {
        None => Ok(body.to_vec()),
        Some(e) if e.is_empty() || e == "identity" => Ok(body.to_vec()),
        Some(e) if e == "gzip" || e == "x-gzip" => {
            sources::gunzip(&body, MAX_INFLATED_BYTES).map_err(|m| ApiError::field("body", m))
        }
        Some(_) => Err(ApiError::field(
            "Content-Encoding",
            "must be gzip or identity",
        )),
    }
}

/// Enqueues what the records became and answers 202 with the stored ids.
/// Records dropped as unmapped are counted against the source once each (after the
/// events are on the queue, so a failed enqueue counts nothing; a retried push counts
/// nothing twice).
async fn accept(
    state: &AppState,
    source: &Source,
    n: Normalized,
    request_id: &RequestId,
) -> Result<Response, ApiError> {
    let tenant = &source.tenant;
    enqueue(state, tenant, &n.events, request_id).await?;
    repo::count_dropped(
        state.store.as_ref(),
        tenant,
        &source.id,
        &n.dropped,
        state.clock.now(),
    )
    .await?;
    let ids: Vec<&str> = n.events.iter().map(|e| e.id.as_str()).collect();
    let answer = json!({"accepted": ids.len(), "ids": ids, "dropped": n.dropped.len()});
    Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
}

/// The source as listed: its view, when it last received a record, its stored events
/// by type and how many records it dropped as unmapped (`drop_unmapped`).
async fn summary(state: &AppState, s: &Source) -> Result<Value, ApiError> {
    let store = state.store.as_ref();
    let seen = repo::seen(store, &s.tenant, &s.id).await?;
    let counts = repo::counts(store, &s.tenant, &s.id).await?;
    let total: i64 = counts.values().sum();
    let mut v = s.view();
    v["last_received_at"] = json!(seen.as_ref().map(|x| x.last_received_at));
    v["last_event_id"] = json!(seen.as_ref().map(|x| &x.last_event_id));
    v["counts"] = json!(counts);
    v["total"] = json!(total);
    v["dropped_unmapped"] = json!(repo::dropped(store, &s.tenant, &s.id).await?);
    Ok(v)
}

/// Audited as `source.create`; the answer holds the source's secret, once.
#[utoipa::path(
    post,
    path = "/sources",
    tag = "sources",
    operation_id = "sources_create",
    summary = "Create a log source (its secret is in this answer only)",
    description = "Role: admin. `kind` is cloudtrail, github, okta or native; `principals` (AWS account ids or IAM ARNs) may send to the source's own SQS queue, which on AWS is made with the source (`queue_url`, `queue_arn`, `dead_letter_queue_arn`; its records need no signature, the queue names the tenant); `drop_unmapped` drops records no mapping covers instead of storing them as `other` (counted as `dropped_unmapped`).",
    request_body(content = crate::openapi::SourceIn, content_type = "application/json"),
    responses((status = 201, description = "The source, its push path and its secret", body = crate::openapi::Object), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, HeaderMap, Json<Value>), ApiError> {
    caller.require(Role::Admin)?;
    let spec = SourceSpec::from_json(&parse_json(&body)?).map_err(ApiError::Invalid)?;
    let (source, secret) = service::create(
        state.store.as_ref(),
        &state.webhooks,
        &caller.origin(&request_id),
        spec,
        state.source_queues.as_ref(),
        state.clock.now(),
    )
    .await?;
    let mut view = source.view();
    view["secret"] = json!(secret.expose());
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("/sources/{}", source.id)) {
        headers.insert(header::LOCATION, v);
    }
    Ok((StatusCode::CREATED, headers, Json(view)))
}

#[utoipa::path(
    get,
    path = "/sources",
    tag = "sources",
    operation_id = "sources_list",
    summary = "Sources, each with its last record received and counts by mapped type",
    description = "Role: viewer. `counts` by mapped type, `total`, and `dropped_unmapped`: records dropped as unmapped, each counted once.",
    responses((status = 200, description = "Every source", body = crate::openapi::Page), crate::openapi::ReadErrors),
)]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let mut items = Vec::new();
    for s in repo::list(state.store.as_ref(), &caller.tenant).await? {
        items.push(summary(&state, &s).await?);
    }
    Ok(Json(json!({ "items": items })))
}

#[utoipa::path(
    get,
    path = "/sources/{id}",
    tag = "sources",
    operation_id = "sources_get",
    summary = "One source, with its counts and the recent dead letters of its queue",
    description = "Role: viewer.",
    params(crate::openapi::IdPath),
    responses((status = 200, description = "The source", body = crate::openapi::Object), crate::openapi::ReadErrors),
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let s = repo::get(state.store.as_ref(), &caller.tenant, &id)
        .await?
        .ok_or(ApiError::NotFound("source"))?
        .value;
    let mut v = summary(&state, &s).await?;
    v["dead_letters"] = json!(
        repo::dead_letters(state.store.as_ref(), &s.tenant, &s.id, DEAD_LETTERS_SHOWN).await?
    );
    Ok(Json(v))
}

/// Audited as `source.rotate_secret`; the previous secret is accepted for a day more.
#[utoipa::path(
    post,
    path = "/sources/{id}/rotate-secret",
    tag = "sources",
    operation_id = "sources_rotate_secret",
    summary = "Start using a new secret (the old one works for 24 hours more)",
    description = "Role: admin.",
    params(crate::openapi::IdPath),
    responses((status = 200, description = "The source and its new secret", body = crate::openapi::Object), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn rotate_secret(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let (s, secret) = service::rotate_secret(
        state.store.as_ref(),
        &state.webhooks,
        &caller.origin(&request_id),
        &id,
        state.clock.now(),
    )
    .await?;
    let mut v = s.view();
    v["secret"] = json!(secret.expose());
    Ok(Json(v))
}

/// CloudTrail records: one, an array, or a log file's `{"Records": [...]}`, optionally
/// gzip-encoded; EventBridge events wrapping records are unwrapped.
#[utoipa::path(
    post,
    path = "/sources/{id}/cloudtrail",
    tag = "sources",
    operation_id = "sources_push_cloudtrail",
    summary = "Push CloudTrail records",
    description = "Role: none; the source secret authorizes (`Authorization: Bearer <source secret>`). `Content-Encoding: gzip` accepted. A record that cannot be read is a 422 naming its index; none is taken then.",
    params(crate::openapi::IdPath, ("Authorization" = String, Header, description = "Bearer <source secret>")),
    request_body(content = crate::openapi::Object, content_type = "application/json"),
    responses((status = 202, description = "The records' events are on the durable queue", body = crate::openapi::SourceAccepted), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
    security(()),
)]
pub async fn push_cloudtrail(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request_id: RequestId,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let source = pushed(&state, &id, SourceKind::Cloudtrail).await?;
    require_secret(&state, &source, &headers)?;
    let value = parse_json(&decoded(&headers, body)?)?;
    let n = sources::normalize_cloudtrail(&value, &source, bounds(&state))
        .map_err(ApiError::Invalid)?;
    accept(&state, &source, n, &request_id).await
}

async fn already_stored(
    state: &AppState,
    tenant: &TenantId,
    events: &[Event],
) -> Result<bool, ApiError> {
    match events {
        [one] => Ok(event_repo::get(state.store.as_ref(), tenant, &one.id)
            .await?
            .is_some()),
        _ => Ok(false),
    }
}

/// GitHub webhooks (signed; `ping` answered) and the organization audit-log stream
/// (NDJSON, `Authorization: Bearer <source secret>`).
#[utoipa::path(
    post,
    path = "/sources/{id}/github",
    tag = "sources",
    operation_id = "sources_push_github",
    summary = "Receive GitHub webhooks or audit-log stream lines",
    description = "Role: none; the source secret authorizes. A webhook carries `X-GitHub-Event`, `X-GitHub-Delivery` and `X-Hub-Signature-256` (HMAC-SHA256 of the exact body with the source secret); a bad signature is 401. A delivery already stored answers 200 with `duplicate: true`. Without `X-GitHub-Event` the body is audit-log NDJSON (or a JSON array), authorized by `Bearer <source secret>`.",
    params(crate::openapi::IdPath,
        ("X-GitHub-Event" = Option<String>, Header, description = "The webhook event name"),
        ("X-GitHub-Delivery" = Option<String>, Header, description = "The delivery id (the same on a redelivery)"),
        ("X-Hub-Signature-256" = Option<String>, Header, description = "sha256=<hex HMAC-SHA256 of the body>"),
        ("Authorization" = Option<String>, Header, description = "Bearer <source secret>, for the audit-log stream")),
    request_body(content = crate::openapi::Object, content_type = "application/json"),
    responses((status = 202, description = "On the durable queue", body = crate::openapi::SourceAccepted), (status = 200, description = "`ping` answered, or the delivery was stored already", body = crate::openapi::Object), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
    security(()),
)]
pub async fn push_github(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request_id: RequestId,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let source = pushed(&state, &id, SourceKind::Github).await?;
    let Some(event) = header_str(&headers, "x-github-event") else {
        require_secret(&state, &source, &headers)?;
        let body = decoded(&headers, body)?;
        let text =
            std::str::from_utf8(&body).map_err(|_| ApiError::field("body", "must be UTF-8"))?;
        let records = match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(a)) => a,
            _ => github::ndjson(text).map_err(|e| ApiError::Invalid(vec![e]))?,
        };
        let n = sources::normalize_github_audit(&records, &source, bounds(&state))
            .map_err(ApiError::Invalid)?;
        return accept(&state, &source, n, &request_id).await;
    };
    // The signature covers the exact bytes received: checked before anything is parsed.
    let signature = header_str(&headers, "x-hub-signature-256")
        .ok_or(ApiError::BadSignature("X-Hub-Signature-256"))?;
    let ok = source
        .verifies_hub_signature(secret_key(&state)?, signature, &body, state.clock.now())
        .map_err(ServiceError::from)?;
    if !ok {
        return Err(ApiError::BadSignature("X-Hub-Signature-256"));
    }
    let payload = parse_json(&body)?;
    if event == "ping" {
        let answer =
            json!({"pong": true, "zen": payload.get("zen"), "hook_id": payload.get("hook_id")});
        return Ok((StatusCode::OK, Json(answer)).into_response());
    }
    let delivery = header_str(&headers, "x-github-delivery")
        .filter(|d| !d.trim().is_empty())
        .ok_or_else(|| ApiError::field("X-GitHub-Delivery", "is required"))?;
    let n = sources::normalize_github_webhook(&payload, event, delivery, &source, bounds(&state))
        .map_err(ApiError::Invalid)?;
    if already_stored(&state, &source.tenant, &n.events).await? {
        let ids: Vec<&str> = n.events.iter().map(|e| e.id.as_str()).collect();
        let answer = json!({"accepted": 0, "duplicate": true, "ids": ids});
        return Ok((StatusCode::OK, Json(answer)).into_response());
    }
    accept(&state, &source, n, &request_id).await
}

/// Okta's one-time event hook verification: the challenge header echoed back.
#[utoipa::path(
    get,
    path = "/sources/{id}/okta",
    tag = "sources",
    operation_id = "sources_okta_verify",
    summary = "Answer Okta's event hook verification",
    description = "Role: none; the source secret authorizes (`Authorization`, as configured in the hook's authentication header).",
    params(crate::openapi::IdPath,
        ("x-okta-verification-challenge" = String, Header, description = "The challenge to echo"),
        ("Authorization" = String, Header, description = "The source secret")),
    responses((status = 200, description = "`{\"verification\": <challenge>}`", body = crate::openapi::Object), crate::openapi::ReadErrors),
    security(()),
)]
pub async fn okta_verify(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let source = pushed(&state, &id, SourceKind::Okta).await?;
    require_secret(&state, &source, &headers)?;
    let challenge = header_str(&headers, "x-okta-verification-challenge")
        .filter(|c| !c.is_empty() && c.len() <= 1024)
        .ok_or_else(|| ApiError::field("x-okta-verification-challenge", "is required"))?;
    Ok(Json(json!({"verification": challenge})))
}

/// Okta event hook deliveries and System Log API records.
#[utoipa::path(
    post,
    path = "/sources/{id}/okta",
    tag = "sources",
    operation_id = "sources_push_okta",
    summary = "Receive Okta event hook deliveries or System Log records",
    description = "Role: none; the source secret authorizes (`Authorization`). The body is an event hook delivery (`data.events`), an array of System Log LogEvents, or one.",
    params(crate::openapi::IdPath, ("Authorization" = String, Header, description = "The source secret")),
    request_body(content = crate::openapi::Object, content_type = "application/json"),
    responses((status = 202, description = "On the durable queue", body = crate::openapi::SourceAccepted), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
    security(()),
)]
pub async fn push_okta(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request_id: RequestId,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let source = pushed(&state, &id, SourceKind::Okta).await?;
    require_secret(&state, &source, &headers)?;
    let value = parse_json(&decoded(&headers, body)?)?;
    let n = sources::normalize_okta(&value, &source, bounds(&state)).map_err(ApiError::Invalid)?;
    accept(&state, &source, n, &request_id).await
}

/// This module's routes, each with its OpenAPI operation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get))
        .routes(routes!(rotate_secret))
        .routes(routes!(push_cloudtrail))
        .routes(routes!(push_github))
        .routes(routes!(okta_verify, push_okta))
}
