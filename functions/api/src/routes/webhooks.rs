//! Webhook endpoints: management (admin), reading (every role), test messages, delivery
//! history, redelivery and the dead-letter list. A signing secret appears only in the
//! answers to create and rotate-secret.
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::{Value, json};
use vigil_shared::domain::{Role, TenantId};
use vigil_shared::ports::{Cursor, OutMessage, QueueName};
use vigil_shared::repo::webhooks as repo;
use vigil_shared::service::webhooks::{self as service, NewSpec};
use vigil_shared::webhooks::delivery::{DeliveryJob, MessageStatus, WebhookMessage};
use vigil_shared::webhooks::endpoint::Endpoint;
use vigil_shared::webhooks::fanout::test_message;

use super::parse_json;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::http::RequestId;
use crate::http::body::JsonBody;
use crate::params::{Params, check_cursor, page_json};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

async fn load(
    state: &AppState,
    tenant: &TenantId,
    id: &str,
) -> Result<repo::Versioned<Endpoint>, ApiError> {
    repo::get_endpoint(state.store.as_ref(), tenant, id)
        .await?
        .ok_or(ApiError::NotFound("webhook endpoint"))
}

async fn enqueue(state: &AppState, job: &DeliveryJob) -> Result<(), ApiError> {
    let body = serde_json::to_string(job).map_err(|e| ApiError::Internal(e.into()))?;
    state
        .queue
        .send(QueueName::Webhook, vec![OutMessage::new(body)])
        .await?;
    Ok(())
}

/// Audited as `webhook.create`; the answer holds the signing secret, once.
#[utoipa::path(
    post,
    path = "/webhooks",
    tag = "webhooks",
    operation_id = "webhooks_create",
    summary = "Create an endpoint (its secret is in this answer only)",
    description = "Role: admin.",
    request_body(content = crate::openapi::WebhookIn, content_type = "application/json"),
    responses((status = 201, description = "The endpoint and its secret", body = crate::openapi::Object), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, HeaderMap, Json<Value>), ApiError> {
    caller.require(Role::Admin)?;
    let spec = service::checked_spec(&state.webhooks, &parse_json(&body)?).await?;
    let (endpoint, secret) = service::create(
        state.store.as_ref(),
        &state.webhooks,
        &caller.origin(&request_id),
        spec,
        state.clock.now(),
    )
    .await?;
    let mut view = endpoint.view();
    view["secret"] = json!(secret.expose());
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("/webhooks/{}", endpoint.id)) {
        headers.insert(header::LOCATION, v);
    }
    Ok((StatusCode::CREATED, headers, Json(view)))
}

#[utoipa::path(
    get,
    path = "/webhooks",
    tag = "webhooks",
    operation_id = "webhooks_list",
    summary = "Endpoints",
    description = "Role: viewer.",
    responses((status = 200, description = "Every endpoint", body = crate::openapi::Page), crate::openapi::ReadErrors),
)]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let items: Vec<Value> = repo::list_endpoints(state.store.as_ref(), &caller.tenant)
        .await?
        .iter()
        .map(Endpoint::view)
        .collect();
    Ok(Json(json!({ "items": items })))
}

#[utoipa::path(
    get,
    path = "/webhooks/{id}",
    tag = "webhooks",
    operation_id = "webhooks_get",
    summary = "One endpoint",
    description = "Role: viewer.",
    params(crate::openapi::IdPath),
    responses((status = 200, description = "The endpoint", body = crate::openapi::Object), crate::openapi::ReadErrors),
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(Json(load(&state, &caller.tenant, &id).await?.value.view()))
}

async fn update(
    state: &AppState,
    caller: &Caller,
    request_id: &RequestId,
    read: repo::Versioned<Endpoint>,
    new: NewSpec,
) -> Result<Json<Value>, ApiError> {
    let e = service::update(
        state.store.as_ref(),
        &state.webhooks,
        &caller.origin(request_id),
        read,
        &new,
        state.clock.now(),
    )
    .await?;
    Ok(Json(e.view()))
}

/// Audited as `webhook.replace`.
#[utoipa::path(
    put,
    path = "/webhooks/{id}",
    tag = "webhooks",
    operation_id = "webhooks_put",
    summary = "Replace an endpoint's spec",
    description = "Role: admin.",
    params(crate::openapi::IdPath),
    request_body(content = crate::openapi::WebhookIn, content_type = "application/json"),
    responses((status = 200, description = "The endpoint", body = crate::openapi::Object), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    // An unknown endpoint answers 404 before its body is judged.
    let read = load(&state, &caller.tenant, &id).await?;
    let spec = service::checked_spec(&state.webhooks, &parse_json(&body)?).await?;
    update(&state, &caller, &request_id, read, NewSpec::Full(spec)).await
}

/// JSON merge patch (RFC 7396) over the endpoint's spec. Audited as `webhook.update`.
#[utoipa::path(
    patch,
    path = "/webhooks/{id}",
    tag = "webhooks",
    operation_id = "webhooks_patch",
    summary = "Merge-patch an endpoint's spec",
    description = "Role: admin.",
    params(crate::openapi::IdPath),
    request_body(content = crate::openapi::Object, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The endpoint", body = crate::openapi::Object), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let read = load(&state, &caller.tenant, &id).await?;
    let patch = parse_json(&body)?;
    update(&state, &caller, &request_id, read, NewSpec::Patch(patch)).await
}

/// Audited as `webhook.delete` (no `after`).
#[utoipa::path(
    delete,
    path = "/webhooks/{id}",
    tag = "webhooks",
    operation_id = "webhooks_delete",
    summary = "Delete an endpoint",
    description = "Role: admin.",
    params(crate::openapi::IdPath),
    responses((status = 204, description = "Deleted"), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    service::delete(
        state.store.as_ref(),
        &caller.origin(&request_id),
        &id,
        state.clock.now(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Audited as `webhook.rotate_secret`; the answer holds the new secret, once.
#[utoipa::path(
    post,
    path = "/webhooks/{id}/rotate-secret",
    tag = "webhooks",
    operation_id = "webhooks_rotate_secret",
    summary = "Start signing with a new secret; the old one is accepted 24 h more",
    description = "Role: admin.",
    params(crate::openapi::IdPath),
    responses((status = 200, description = "The new secret", body = crate::openapi::Object), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn rotate_secret(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let (e, secret) = service::rotate_secret(
        state.store.as_ref(),
        &state.webhooks,
        &caller.origin(&request_id),
        &id,
        state.clock.now(),
    )
    .await?;
    let previous_expires = e.secrets.rotation_ends_at();
    Ok(Json(json!({
        "id": e.id,
        "secret": secret.expose(),
        "previous_secret_expires_at": previous_expires,
    })))
}

#[utoipa::path(
    post,
    path = "/webhooks/{id}/test",
    tag = "webhooks",
    operation_id = "webhooks_test",
    summary = "Queue a webhook.test message",
    description = "Role: admin.",
    params(crate::openapi::IdPath),
    responses((status = 202, description = "The message", body = crate::openapi::Object), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn test(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Admin)?;
    let e = load(&state, &caller.tenant, &id).await?.value;
    if !e.spec.enabled {
        return Err(ApiError::Conflict(
            "the endpoint is disabled; enable it first".into(),
        ));
    }
    let m = test_message(&e, state.clock.now());
    repo::create_message(state.store.as_ref(), &m).await?;
    enqueue(&state, &m.job()).await?;
    Ok((StatusCode::ACCEPTED, Json(message_view(&m, None))))
}

fn message_view(m: &WebhookMessage, attempts: Option<Value>) -> Value {
    let mut v = json!({
        "id": m.id,
        "endpoint_id": m.endpoint_id,
        "event_type": m.event_type,
        "event_id": m.event_id,
        "status": m.status,
        "created_at": m.created_at,
        "updated_at": m.updated_at,
        "attempt_count": m.attempts,
        "next_attempt_at": m.next_attempt_at,
        "last_status_code": m.last_status_code,
        "last_error": m.last_error,
    });
    if let Some(a) = attempts {
        v["attempts"] = a;
    }
    v
}

fn page_params(mut p: Params) -> Result<(usize, Option<Cursor>), ApiError> {
    let page = p.page(100, 20);
    p.finish()?;
    Ok(page)
}

async fn with_attempts(state: &AppState, page: repo::MessagePage) -> Result<Json<Value>, ApiError> {
    let mut items = Vec::with_capacity(page.items.len());
    for m in &page.items {
        let attempts = repo::attempts(state.store.as_ref(), &m.tenant, &m.id).await?;
        items.push(message_view(m, Some(json!(attempts))));
    }
    Ok(page_json(items, None, page.next.as_ref()))
}

/// An endpoint's messages, newest first, each with its attempts.
#[utoipa::path(
    get,
    path = "/webhooks/{id}/deliveries",
    tag = "webhooks",
    operation_id = "webhooks_deliveries",
    summary = "An endpoint's messages with their attempts",
    description = "Role: viewer.",
    params(crate::openapi::IdPath, crate::openapi::PageQuery),
    responses((status = 200, description = "A page of messages", body = crate::openapi::Page), crate::openapi::ReadErrors),
)]
pub async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    p: Params,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let (limit, cursor) = page_params(p)?;
    load(&state, &caller.tenant, &id).await?;
    check_cursor(
        cursor.as_ref(),
        &repo::endpoint_messages_query(&caller.tenant, &id),
    )?;
    let page =
        repo::messages_for_endpoint(state.store.as_ref(), &caller.tenant, &id, limit, cursor)
            .await?;
    with_attempts(&state, page).await
}

/// Messages whose retries ran out (or whose endpoint was disabled), newest first.
#[utoipa::path(
    get,
    path = "/webhooks/dead-letters",
    tag = "webhooks",
    operation_id = "webhooks_dead_letters",
    summary = "Messages whose retries ran out",
    description = "Role: viewer.",
    params(crate::openapi::PageQuery),
    responses((status = 200, description = "A page of messages", body = crate::openapi::Page), crate::openapi::ReadErrors),
)]
pub async fn dead_letters(
    State(state): State<AppState>,
    caller: Caller,
    p: Params,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let (limit, cursor) = p.finish_page(100, 20, &repo::dead_letters_query(&caller.tenant))?;
    let first_page = cursor.is_none();
    let page = repo::dead_letters(state.store.as_ref(), &caller.tenant, limit, cursor).await?;
    let mut out = with_attempts(&state, page).await?;
    if first_page {
        out.0["queue_dead_letters"] = json!(queue_dead_letters(&state, &caller.tenant).await);
    }
    Ok(out)
}

/// Jobs the webhook queue itself dead-lettered (the worker failed on them repeatedly,
/// e.g. while storage was down), for this tenant. Best effort: the list is a peek.
async fn queue_dead_letters(state: &AppState, tenant: &TenantId) -> Vec<Value> {
    match state.queue.dead_letters(QueueName::Webhook, 100).await {
        Ok(letters) => letters
            .iter()
            .filter_map(|l| {
                let job: DeliveryJob = serde_json::from_str(&l.body).ok()?;
                (job.tenant == *tenant).then(|| {
                    json!({
                        "message_id": job.message_id,
                        "endpoint_id": job.endpoint_id,
                        "receive_count": l.receive_count,
                    })
                })
            })
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot peek the webhook dead-letter queue");
            Vec::new()
        }
    }
}

/// Sends a finished message again, same `webhook-id`, with a fresh retry schedule.
#[utoipa::path(
    post,
    path = "/webhooks/{id}/deliveries/{delivery_id}/redeliver",
    tag = "webhooks",
    operation_id = "webhooks_redeliver",
    summary = "Send a finished message again",
    description = "Role: admin.",
    params(("id" = String, Path, description = "Endpoint id"), ("delivery_id" = String, Path, description = "Message id")),
    responses((status = 202, description = "The message", body = crate::openapi::Object), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn redeliver(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, delivery_id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Admin)?;
    let endpoint = load(&state, &caller.tenant, &id).await?.value;
    let read = repo::get_message(state.store.as_ref(), &caller.tenant, &delivery_id)
        .await?
        .filter(|m| m.value.endpoint_id == endpoint.id)
        .ok_or(ApiError::NotFound("delivery"))?;
    if read.value.status == MessageStatus::Pending {
        return Err(ApiError::Conflict("the delivery is still pending".into()));
    }
    if !endpoint.spec.enabled {
        return Err(ApiError::Conflict(
            "the endpoint is disabled; enable it first".into(),
        ));
    }
    let mut m = read.value;
    m.requeue(state.clock.now());
    repo::replace_message(state.store.as_ref(), &m, read.version).await?;
    enqueue(&state, &m.job()).await?;
    Ok((StatusCode::ACCEPTED, Json(message_view(&m, None))))
}

/// This module's routes, each with its OpenAPI operation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get, put, patch, delete))
        .routes(routes!(rotate_secret))
        .routes(routes!(test))
        .routes(routes!(deliveries))
        .routes(routes!(dead_letters))
        .routes(routes!(redeliver))
}
