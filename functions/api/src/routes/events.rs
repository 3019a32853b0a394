//! `POST /events` and `GET /events`.
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing;
use axum::{Json, Router};
use serde_json::{Value, json};
use vigil_shared::domain::Role;
use vigil_shared::domain::event::{IdSource, parse_batch};
use vigil_shared::messages::EventMessage;
use vigil_shared::ports::{OutMessage, QueueName};
use vigil_shared::repo::events::{self, EventFilter};
use vigil_shared::repo::idempotency;

use super::parse_json;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::http::RequestId;
use crate::params::{DayEdge, Params, page_json};
use crate::state::AppState;

/// Largest accepted request body.
pub const MAX_BODY: usize = 1024 * 1024;
const IDEMPOTENCY_SCOPE: &str = "POST /events";

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(v) => match v.to_str() {
            Ok(s) if !s.trim().is_empty() && s.len() <= 255 => Ok(Some(s.trim().to_string())),
            _ => Err(ApiError::field(
                "Idempotency-Key",
                "must be 1-255 visible ASCII characters",
            )),
        },
    }
}

/// Accepts events: once this answers 202 they are on the durable ingest queue.
pub async fn post(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Role::Analyst)?;
    if body.len() > MAX_BODY {
        return Err(ApiError::TooLarge(body.len(), MAX_BODY));
    }
    let now = state.clock.now();
    let key = idempotency_key(&headers)?;
    let hash = idempotency::request_hash(IDEMPOTENCY_SCOPE, &body);
    if let Some(k) = &key {
        if let Some(prior) = idempotency::lookup(
            state.store.as_ref(),
            &caller.tenant,
            IDEMPOTENCY_SCOPE,
            k,
            now,
        )
        .await?
        {
            if prior.request_hash != hash {
                return Err(ApiError::Invalid(vec![
                    vigil_shared::domain::FieldError::new(
                        "Idempotency-Key",
                        "was already used with a different request body",
                    ),
                ]));
            }
            let status = StatusCode::from_u16(prior.status).unwrap_or(StatusCode::ACCEPTED);
            return Ok(
                (status, [("idempotent-replayed", "true")], Json(prior.body)).into_response(),
            );
        }
    }
    let value = parse_json(&body)?;
    let ids = key
        .as_deref()
        .map_or(IdSource::Random, IdSource::Idempotency);
    let batch = parse_batch(&value, &caller.tenant, ids, now).map_err(ApiError::Invalid)?;
    // The whole request travels as one message (more only past the queue's size limit).
    let messages = EventMessage::bodies(&caller.tenant, &batch, Some(&request_id.0))
        .map_err(|e| ApiError::Internal(e.into()))?
        .into_iter()
        .map(OutMessage::new)
        .collect();
    state.queue.send(QueueName::Ingest, messages).await?;
    let ids: Vec<&str> = batch.iter().map(|e| e.id.as_str()).collect();
    let answer = json!({"accepted": ids.len(), "ids": ids});
    if let Some(k) = &key {
        let first = idempotency::Answer {
            request_hash: hash,
            status: 202,
            body: answer.clone(),
        };
        idempotency::record(
            state.store.as_ref(),
            &caller.tenant,
            IDEMPOTENCY_SCOPE,
            k,
            first,
            now,
        )
        .await?;
    }
    Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    mut p: Params,
) -> Result<Json<Value>, ApiError> {
    let filter = EventFilter {
        user: p.string("user"),
        event_type: p.string("event_type"),
        source: p.string("source"),
        from: p
            .time("from", DayEdge::Start)
            .or_else(|| p.time("from_timestamp", DayEdge::Start)),
        to: p
            .time("to", DayEdge::End)
            .or_else(|| p.time("to_timestamp", DayEdge::End)),
    };
    let (limit, cursor) = p.finish_page(500, 50, &events::list_query(&caller.tenant, &filter))?;
    let page = events::list(state.store.as_ref(), &caller.tenant, &filter, limit, cursor).await?;
    let items = page
        .items
        .iter()
        .map(events::from_item)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(page_json(items, None, page.next.as_ref()))
}

/// This module's routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/events", routing::post(post).get(list))
}
