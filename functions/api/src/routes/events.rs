//! `POST /events` and `GET /events`.
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use vigil_shared::domain::Event;
use vigil_shared::domain::Role;
use vigil_shared::domain::event::{IdSource, TimeBounds, event_id, parse_batch};
use vigil_shared::messages::EventMessage;
use vigil_shared::ports::{Cursor, OutMessage, QueueName};
use vigil_shared::repo::events::{self, EventFilter};
use vigil_shared::repo::idempotency;
use vigil_shared::telemetry::{self, metric};

use super::parse_json;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::http::RequestId;
use crate::http::body::JsonBody;
use crate::params::{DayEdge, Format, Params, page_json};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Largest accepted request body.
pub const MAX_BODY: usize = 1024 * 1024;
const IDEMPOTENCY_SCOPE: &str = "POST /events";

pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
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

/// Puts accepted events on the durable ingest queue: the one path of `POST /events` and
/// every source push. The whole batch travels as one message (more only past the
/// queue's size limit).
pub(crate) async fn enqueue(
    state: &AppState,
    tenant: &vigil_shared::domain::TenantId,
    batch: &[Event],
    request_id: &RequestId,
) -> Result<(), ApiError> {
    if batch.is_empty() {
        return Ok(());
    }
    // Ingestion has its own budget, counted in events, whichever way they arrive; a
    // replayed request was answered from its record before it got here.
    let budget = state
        .limits
        .charge_ingest(tenant, batch.len() as u64, state.clock.now())
        .await?;
    if !budget.allowed {
        telemetry::count(metric::RATE_LIMITED, 1);
        return Err(ApiError::RateLimited(budget));
    }
    let messages = EventMessage::bodies(tenant, batch, Some(&request_id.0))
        .map_err(|e| ApiError::Internal(e.into()))?
        .into_iter()
        .map(OutMessage::new)
        .collect();
    state.queue.send(QueueName::Ingest, messages).await?;
    telemetry::count(metric::EVENTS_ACCEPTED, batch.len());
    Ok(())
}

/// Accepts events: once this answers 202 they are on the durable ingest queue.
#[utoipa::path(
    post,
    path = "/events",
    tag = "events",
    operation_id = "events_post",
    summary = "Ingest one event or up to 500",
    description = "Role: analyst.",
    params(("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key and body gets the first answer back")),
    request_body(content = crate::openapi::EventsIn, content_type = "application/json"),
    responses((status = 202, description = "Every event is on the durable queue", body = crate::openapi::Accepted), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn post(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    caller.require(Role::Analyst)?;
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
    let bounds = TimeBounds {
        now,
        max_age: state.event_max_age,
    };
    let batch = parse_batch(&value, &caller.tenant, ids, bounds).map_err(ApiError::Invalid)?;
    enqueue(&state, &caller.tenant, &batch, &request_id).await?;
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

/// Whether `e` passes every filter of `GET /events`.
fn admits(f: &EventFilter, e: &Event) -> bool {
    f.user.as_ref().is_none_or(|u| *u == e.user)
        && f.event_type
            .as_ref()
            .is_none_or(|t| t == e.event_type.as_str())
        && f.source
            .as_ref()
            .is_none_or(|s| Some(s) == e.source.as_ref())
        && f.from.is_none_or(|t| e.timestamp >= t)
        && f.to.is_none_or(|t| e.timestamp <= t)
}

/// An event by its stored id or by the client id it was sent with: a client id maps to
/// one stored id per tenant, so this is one read either way.
async fn find(state: &AppState, caller: &Caller, id: &str) -> Result<Option<Event>, ApiError> {
    let store = state.store.as_ref();
    if let Some(e) = events::get(store, &caller.tenant, id).await? {
        return Ok(Some(e));
    }
    let by_client = event_id(&caller.tenant, Some(id), IdSource::Random, 0);
    Ok(events::get(store, &caller.tenant, &by_client)
        .await?
        .filter(|e| e.client_id.as_deref() == Some(id)))
}

#[utoipa::path(
    get,
    path = "/events/{id}",
    tag = "events",
    operation_id = "events_get",
    summary = "An event by its stored id or the client id it was sent with",
    description = "Role: viewer.",
    params(crate::openapi::IdPath),
    responses((status = 200, description = "The event", body = crate::openapi::Event), crate::openapi::ReadErrors),
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Event>, ApiError> {
    find(&state, &caller, &id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("event"))
}

#[utoipa::path(
    get,
    path = "/events",
    tag = "events",
    operation_id = "events_list",
    summary = "Events, newest first, as Vigil's JSON or OCSF events",
    description = "Role: viewer. `format=ocsf` gives each event of the page as an OCSF 1.8.0 event (Authentication 3002, Account Change 3001, API Activity 6003 or Base Event 0); the paging is the same.",
    params(("user" = Option<String>, Query, description = "Exact user"), ("event_type" = Option<String>, Query, description = "Exact type"), ("source" = Option<String>, Query, description = "Exact source"), ("client_id" = Option<String>, Query, description = "The client id an event was sent with"), ("from" = Option<String>, Query, description = "RFC 3339 or YYYY-MM-DD"), ("to" = Option<String>, Query, description = "RFC 3339 or YYYY-MM-DD"), crate::openapi::FormatQuery, crate::openapi::PageQuery),
    responses((status = 200, description = "A page of events", body = crate::openapi::EventPage), crate::openapi::ReadErrors),
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    mut p: Params,
) -> Result<Json<Value>, ApiError> {
    let client_id = p.string("client_id");
    let format = p.format();
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
    if let Some(cid) = client_id {
        // At most one event has a given client id; the other filters still apply.
        let found = find(&state, &caller, &cid)
            .await?
            .filter(|e| e.client_id.as_deref() == Some(cid.as_str()) && admits(&filter, e));
        return Ok(page(found.into_iter().collect(), format, None));
    }
    let page = events::list(state.store.as_ref(), &caller.tenant, &filter, limit, cursor).await?;
    let items = page
        .items
        .iter()
        .map(events::from_item)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(self::page(items, format, page.next.as_ref()))
}

/// A page of `items` as `format` has them.
fn page(items: Vec<Event>, format: Format, next: Option<&Cursor>) -> Json<Value> {
    match format {
        Format::Json => page_json(items, None, next),
        Format::Ocsf => {
            let docs: Vec<Value> = items.iter().map(vigil_shared::ocsf::event).collect();
            page_json(docs, None, next)
        }
    }
}

/// This module's routes, each with its OpenAPI operation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(post, list))
        .routes(routes!(get))
}
