//! Webhook endpoints: management (admin), reading (every role), test messages, delivery
//! history, redelivery and the dead-letter list. A signing secret appears only in the
//! answers to create and rotate-secret.
use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::{Value, json};
use vigil_shared::audit::{self, Actor, AuditDraft};
use vigil_shared::domain::{FieldError, Role, TenantId};
use vigil_shared::ports::{Cursor, OutMessage, QueueName, WriteOp};
use vigil_shared::repo::page::{cursor_in_partition, encode_cursor};
use vigil_shared::repo::webhooks as repo;
use vigil_shared::webhooks::delivery::{DeliveryJob, MessageStatus, WebhookMessage};
use vigil_shared::webhooks::endpoint::{Endpoint, EndpointSpec, merge_patch};
use vigil_shared::webhooks::fanout::test_message;
use vigil_shared::webhooks::{SecretKey, WebhookSettings};

use super::audit::RequestId;
use super::parse_json;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::params::Params;
use crate::state::AppState;

fn secret_key(settings: &WebhookSettings) -> Result<&SecretKey, ApiError> {
    settings
        .secret_key
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("VIGIL_SECRET_KEY is not configured".into()))
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// Parses a spec and runs the address guard on its URL (DNS included).
async fn checked_spec(state: &AppState, body: &Value) -> Result<EndpointSpec, ApiError> {
    let spec = EndpointSpec::from_json(body).map_err(ApiError::Invalid)?;
    state
        .webhooks
        .policy
        .check(&spec.url)
        .await
        .map_err(|e| ApiError::Invalid(vec![FieldError::new("url", e.to_string())]))?;
    Ok(spec)
}

async fn load(
    state: &AppState,
    tenant: &TenantId,
    id: &str,
) -> Result<repo::Versioned<Endpoint>, ApiError> {
    repo::get_endpoint(state.store.as_ref(), tenant, id)
        .await?
        .ok_or(ApiError::NotFound("webhook endpoint"))
}

/// The audit entry of a change to an endpoint, as ops for the change's own write.
/// Snapshots are the API view, which never holds a secret, plain or sealed.
async fn audit_ops(
    state: &AppState,
    caller: &Caller,
    request_id: &str,
    action: &str,
    before: Option<&Endpoint>,
    after: Option<&Endpoint>,
) -> Result<Vec<WriteOp>, ApiError> {
    let id = after.or(before).map(|e| e.id.as_str()).unwrap_or_default();
    let mut draft = AuditDraft::new(Actor::key(&caller.key_id), action, "webhook", id)
        .request_id(Some(request_id.to_string()));
    if let Some(b) = before {
        draft = draft.before(&b.view());
    }
    if let Some(a) = after {
        draft = draft.after(&a.view());
    }
    let prepared = audit::prepare(
        state.store.as_ref(),
        &caller.tenant,
        &draft,
        state.clock.now(),
    )
    .await?;
    Ok(prepared.ops)
}

fn kept_changing() -> ApiError {
    ApiError::Conflict("the webhook endpoint kept changing; retry".into())
}

async fn enqueue(state: &AppState, job: &DeliveryJob) -> Result<(), ApiError> {
    let body = serde_json::to_string(job).map_err(internal)?;
    state
        .queue
        .send(QueueName::Webhook, vec![OutMessage::new(body)])
        .await?;
    Ok(())
}

/// Audited as `webhook.create`.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    RequestId(request_id): RequestId,
    body: Bytes,
) -> Result<(StatusCode, HeaderMap, Json<Value>), ApiError> {
    caller.require(Role::Admin)?;
    let spec = checked_spec(&state, &parse_json(&body)?).await?;
    let key = secret_key(&state.webhooks)?;
    let (endpoint, secret) =
        Endpoint::create(&caller.tenant, spec, key, state.clock.now()).map_err(internal)?;
    let mut created = false;
    for attempt in 0..audit::MAX_ATTEMPTS {
        let ops = audit_ops(
            &state,
            &caller,
            &request_id,
            "webhook.create",
            None,
            Some(&endpoint),
        )
        .await?;
        match repo::create_endpoint_with(state.store.as_ref(), &endpoint, ops).await {
            Ok(()) => {
                created = true;
                break;
            }
            // The id is fresh: only the ledger can have moved.
            Err(e) if audit::retryable(&e) => audit::backoff(attempt).await,
            Err(e) => return Err(e.into()),
        }
    }
    if !created {
        return Err(kept_changing());
    }
    let mut view = endpoint.view();
    view["secret"] = json!(secret.expose());
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("/webhooks/{}", endpoint.id)) {
        headers.insert(header::LOCATION, v);
    }
    Ok((StatusCode::CREATED, headers, Json(view)))
}

pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let items: Vec<Value> = repo::list_endpoints(state.store.as_ref(), &caller.tenant)
        .await?
        .iter()
        .map(Endpoint::view)
        .collect();
    Ok(Json(json!({ "items": items })))
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(Json(load(&state, &caller.tenant, &id).await?.value.view()))
}

/// The new spec of an update: a full one (PUT) or a merge patch over the current one.
enum NewSpec {
    Full(EndpointSpec),
    Patch(Value),
}

/// Replaces the spec, keeping secrets; enabling again clears the failure record. The
/// audit entry goes in the same write; a lost race re-reads and applies again.
async fn update(
    state: &AppState,
    caller: &Caller,
    request_id: &str,
    action: &str,
    first: repo::Versioned<Endpoint>,
    new: NewSpec,
) -> Result<Json<Value>, ApiError> {
    let id = first.value.id.clone();
    let mut read = Some(first);
    for attempt in 0..audit::MAX_ATTEMPTS {
        let current = match read.take() {
            Some(c) => c,
            None => load(state, &caller.tenant, &id).await?,
        };
        let spec = match &new {
            NewSpec::Full(spec) => spec.clone(),
            NewSpec::Patch(patch) => {
                let mut merged = current.value.spec.to_json();
                merge_patch(&mut merged, patch);
                checked_spec(state, &merged).await?
            }
        };
        let mut e = current.value.clone();
        if spec.enabled && !e.spec.enabled {
            e.disabled_reason = None;
            e.failing_since = None;
        }
        e.spec = spec;
        e.updated_at = state.clock.now();
        let ops = audit_ops(
            state,
            caller,
            request_id,
            action,
            Some(&current.value),
            Some(&e),
        )
        .await?;
        match repo::replace_endpoint_with(state.store.as_ref(), &e, current.version, ops).await {
            Ok(_) => return Ok(Json(e.view())),
            Err(err) if audit::retryable(&err) => audit::backoff(attempt).await,
            Err(err) => return Err(err.into()),
        }
    }
    Err(kept_changing())
}

/// Audited as `webhook.replace`.
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let current = load(&state, &caller.tenant, &id).await?;
    let spec = checked_spec(&state, &parse_json(&body)?).await?;
    update(
        &state,
        &caller,
        &request_id,
        "webhook.replace",
        current,
        NewSpec::Full(spec),
    )
    .await
}

/// JSON merge patch (RFC 7396) over the endpoint's spec. Audited as `webhook.update`.
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let current = load(&state, &caller.tenant, &id).await?;
    let patch = parse_json(&body)?;
    if !patch.is_object() {
        return Err(ApiError::field(
            "body",
            "a merge patch must be a JSON object",
        ));
    }
    update(
        &state,
        &caller,
        &request_id,
        "webhook.update",
        current,
        NewSpec::Patch(patch),
    )
    .await
}

/// Audited as `webhook.delete` (no `after`).
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let store = state.store.as_ref();
    for attempt in 0..audit::MAX_ATTEMPTS {
        // Gone meanwhile: the next read answers 404.
        let current = load(&state, &caller.tenant, &id).await?;
        let ops = audit_ops(
            &state,
            &caller,
            &request_id,
            "webhook.delete",
            Some(&current.value),
            None,
        )
        .await?;
        match repo::delete_endpoint_with(store, &caller.tenant, &id, current.version, ops).await {
            Ok(()) => return Ok(StatusCode::NO_CONTENT),
            Err(e) if audit::retryable(&e) => audit::backoff(attempt).await,
            Err(e) => return Err(e.into()),
        }
    }
    Err(kept_changing())
}

/// Audited as `webhook.rotate_secret`; the snapshots show only when the previous
/// secret stops being accepted, never a secret.
pub async fn rotate_secret(
    State(state): State<AppState>,
    caller: Caller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let key = secret_key(&state.webhooks)?;
    let mut rotated = None;
    for attempt in 0..audit::MAX_ATTEMPTS {
        let current = load(&state, &caller.tenant, &id).await?;
        let mut e = current.value.clone();
        let secret = e.rotate(key, state.clock.now()).map_err(internal)?;
        let ops = audit_ops(
            &state,
            &caller,
            &request_id,
            "webhook.rotate_secret",
            Some(&current.value),
            Some(&e),
        )
        .await?;
        match repo::replace_endpoint_with(state.store.as_ref(), &e, current.version, ops).await {
            Ok(_) => {
                rotated = Some((e, secret));
                break;
            }
            Err(err) if audit::retryable(&err) => audit::backoff(attempt).await,
            Err(err) => return Err(err.into()),
        }
    }
    let (e, secret) = rotated.ok_or_else(kept_changing)?;
    let previous_expires = e.secrets.iter().filter_map(|s| s.expires_at).max();
    Ok(Json(json!({
        "id": e.id,
        "secret": secret.expose(),
        "previous_secret_expires_at": previous_expires,
    })))
}

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

fn page_params(q: HashMap<String, String>) -> Result<(usize, Option<Cursor>), ApiError> {
    let mut p = Params::new(q);
    let limit = p.number("limit", 1, 100, 20);
    let cursor = p.cursor("cursor");
    p.finish()?;
    Ok((limit, cursor))
}

async fn with_attempts(state: &AppState, page: repo::MessagePage) -> Result<Json<Value>, ApiError> {
    let mut items = Vec::with_capacity(page.items.len());
    for m in &page.items {
        let attempts = repo::attempts(state.store.as_ref(), &m.tenant, &m.id).await?;
        items.push(message_view(m, Some(json!(attempts))));
    }
    Ok(Json(json!({
        "items": items,
        "next_cursor": page.next.as_ref().map(encode_cursor),
    })))
}

/// An endpoint's messages, newest first, each with its attempts.
pub async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let (limit, cursor) = page_params(q)?;
    load(&state, &caller.tenant, &id).await?;
    if let Some(c) = &cursor {
        if !cursor_in_partition(c, &repo::endpoint_messages_query(&caller.tenant, &id)) {
            return Err(ApiError::field("cursor", "does not belong to this query"));
        }
    }
    let page =
        repo::messages_for_endpoint(state.store.as_ref(), &caller.tenant, &id, limit, cursor)
            .await?;
    with_attempts(&state, page).await
}

/// Messages whose retries ran out (or whose endpoint was disabled), newest first.
pub async fn dead_letters(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let (limit, cursor) = page_params(q)?;
    if let Some(c) = &cursor {
        if !cursor_in_partition(c, &repo::dead_letters_query(&caller.tenant)) {
            return Err(ApiError::field("cursor", "does not belong to this query"));
        }
    }
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
