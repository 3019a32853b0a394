//! The resilience layer's state: `GET/PUT /governance/limits` (the tenant's rate
//! limits), `GET /governance/breakers` and `GET /governance/usage` (model tokens and
//! their estimated cost).
use axum::Json;
use axum::extract::State;
use chrono::{Duration, NaiveDate};
use serde_json::{Value, json};
use vigil_shared::domain::{FieldError, Role};
use vigil_shared::resilience::breaker::Breakers;
use vigil_shared::resilience::{TenantLimits, usage};

use super::parse_json;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::http::RequestId;
use crate::http::body::JsonBody;
use crate::params::Params;
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Longest range `GET /governance/usage` answers, in days.
const MAX_USAGE_DAYS: i64 = 366;

fn limits_json(limits: TenantLimits, own: bool) -> Value {
    json!({"limits": limits, "source": if own { "tenant" } else { "default" }})
}

#[utoipa::path(
    get,
    path = "/governance/limits",
    tag = "governance",
    operation_id = "governance_limits_get",
    summary = "The tenant's rate limits",
    description = "Role: viewer. Requests per key and per tenant, and ingested events per tenant, each per `window_seconds` (a sliding window). `source` says whether they are the tenant's own or the deployment's defaults.",
    responses((status = 200, description = "The limits", body = crate::openapi::Object), crate::openapi::ReadErrors),
)]
pub async fn get_limits(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let (limits, own) = state
        .limits
        .limits(&caller.tenant, state.clock.now())
        .await?;
    Ok(Json(limits_json(limits, own)))
}

/// A whole-number field of `body` that is at least 1.
fn count(body: &Value, field: &str, errors: &mut Vec<FieldError>) -> u64 {
    match body.get(field).map(Value::as_u64) {
        Some(Some(n)) if n >= 1 => n,
        Some(_) => {
            errors.push(FieldError::new(
                field,
                "must be a whole number of at least 1",
            ));
            0
        }
        None => {
            errors.push(FieldError::new(field, "is required"));
            0
        }
    }
}

#[utoipa::path(
    put,
    path = "/governance/limits",
    tag = "governance",
    operation_id = "governance_limits_put",
    summary = "Set the tenant's rate limits",
    description = "Role: admin. Replaces all four values; audited as `governance.limits.update`. Every instance applies them within 30 s.",
    request_body(content = crate::openapi::Object, content_type = "application/json"),
    responses((status = 200, description = "The limits now in force", body = crate::openapi::Object), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn put_limits(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let body = parse_json(&body)?;
    if !body.is_object() {
        return Err(ApiError::field("body", "must be a JSON object"));
    }
    let mut errors = Vec::new();
    let limits = TenantLimits {
        key_requests: count(&body, "key_requests", &mut errors),
        tenant_requests: count(&body, "tenant_requests", &mut errors),
        ingest_events: count(&body, "ingest_events", &mut errors),
        window_seconds: count(&body, "window_seconds", &mut errors),
    };
    if let Err(invalid) = limits.validate() {
        for e in invalid {
            if !errors.iter().any(|have| have.field == e.field) {
                errors.push(e);
            }
        }
    }
    if let Some(obj) = body.as_object() {
        for k in obj.keys() {
            if ![
                "key_requests",
                "tenant_requests",
                "ingest_events",
                "window_seconds",
            ]
            .contains(&k.as_str())
            {
                errors.push(FieldError::new(k, "is not a rate-limit setting"));
            }
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let set = state
        .limits
        .set(&caller.origin(&request_id), limits, state.clock.now())
        .await?;
    Ok(Json(limits_json(set, true)))
}

#[utoipa::path(
    get,
    path = "/governance/breakers",
    tag = "governance",
    operation_id = "governance_breakers",
    summary = "Circuit breakers the tenant's calls go through",
    description = "Role: viewer. The model endpoint's breaker (shared by every tenant) and one per webhook endpoint of the tenant that has failed at least once: state CLOSED, OPEN or HALF_OPEN, consecutive failures, when it opened and when it lets a trial call through.",
    responses((status = 200, description = "The breakers", body = crate::openapi::Object), crate::openapi::ReadErrors),
)]
pub async fn breakers(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let settings = state.webhooks.breaker;
    let list = Breakers::list(state.store.as_ref(), &caller.tenant).await?;
    let items: Vec<Value> = list
        .iter()
        .map(|b| {
            let mut v = serde_json::to_value(b).unwrap_or(Value::Null);
            v["retry_at"] = json!(b.retry_at(&settings));
            v
        })
        .collect();
    Ok(Json(json!({
        "items": items,
        "failure_threshold": settings.failure_threshold,
        "open_seconds": settings.open_for.num_seconds(),
    })))
}

#[utoipa::path(
    get,
    path = "/governance/usage",
    tag = "governance",
    operation_id = "governance_usage",
    summary = "Model tokens and estimated cost",
    description = "Role: viewer. Per UTC day, model and purpose, and totals over the range, from the `usage` each model answer reports, priced at the deployment's `VIGIL_LLM_PRICE_*_PER_MTOK`.",
    params(
        ("from" = Option<String>, Query, description = "First day (YYYY-MM-DD or RFC 3339); default 30 days before `to`"),
        ("to" = Option<String>, Query, description = "Last day; default today"),
    ),
    responses((status = 200, description = "Usage", body = crate::openapi::Object), crate::openapi::ReadErrors),
)]
pub async fn usage(
    State(state): State<AppState>,
    caller: Caller,
    mut p: Params,
) -> Result<Json<Value>, ApiError> {
    let today = state.clock.now().date_naive();
    let to: NaiveDate = p
        .time("to", crate::params::DayEdge::End)
        .map_or(today, |t| t.date_naive());
    let from: NaiveDate = p
        .time("from", crate::params::DayEdge::Start)
        .map_or(to - Duration::days(30), |t| t.date_naive());
    if from > to {
        p.fail("from", "must not be after to");
    } else if (to - from).num_days() > MAX_USAGE_DAYS {
        p.fail(
            "from",
            format!("the range is at most {MAX_USAGE_DAYS} days"),
        );
    }
    p.finish()?;
    let days = usage::daily(state.store.as_ref(), &caller.tenant, from, to).await?;
    let totals = usage::totals(&days);
    Ok(Json(
        json!({"from": from, "to": to, "days": days, "totals": totals}),
    ))
}

/// This module's routes, each with its OpenAPI operation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_limits, put_limits))
        .routes(routes!(breakers))
        .routes(routes!(usage))
}
