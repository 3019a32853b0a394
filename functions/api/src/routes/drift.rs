//! Model drift and bias monitoring: monitored models (`/models`), their frozen baselines,
//! observations, checks and history, and the tenant's schedule and statistics
//! (`/drift/*`). Bodies parse in `vigil_shared::drift`; `service::drift` does the rest.
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use vigil_shared::domain::Role;
use vigil_shared::drift::check::{self, ExecutionStatus, Trigger};
use vigil_shared::drift::model::ModelSpec;
use vigil_shared::drift::reservoir::DEFAULT_CAPACITY;
use vigil_shared::ports::QueueName;
use vigil_shared::repo::drift::{self as repo, VersionedModel};
use vigil_shared::repo::idempotency;
use vigil_shared::repo::page::query_filtered;
use vigil_shared::service::drift::{self as service, CheckInput, CheckRun};

use super::parse_json;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::http::body::{JsonBody, LargeJsonBody, OptionalLargeJsonBody};
use crate::http::{RequestId, if_match, with_etag};
use crate::params::{DayEdge, Params, page_json};
use crate::routes::events::idempotency_key;
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const OBSERVATIONS_SCOPE: &str = "POST /models/{id}/observations";

fn represented(status: StatusCode, v: &VersionedModel) -> Response {
    with_etag(
        (status, Json(repo::model_view(&v.model, v.version))).into_response(),
        v.version,
    )
}

async fn load(state: &AppState, caller: &Caller, id: &str) -> Result<VersionedModel, ApiError> {
    repo::get_model(state.store.as_ref(), &caller.tenant, id)
        .await?
        .ok_or(ApiError::NotFound("model"))
}

/// Audited as `model.create`.
#[utoipa::path(
    post,
    path = "/models",
    tag = "drift",
    operation_id = "models_create",
    summary = "Register a model for drift and bias monitoring",
    description = "Role: analyst. Body: model_id, model_version, features [{name, type: numeric|categorical}], optional ai_system_id, thresholds {psi_warning 0.1, psi_critical 0.25, bias 0.1, features {name: {psi_warning, psi_critical}}}, bins (10), schedule_interval hourly|daily|weekly|custom, schedule_cron, enabled, notify_on [WARNING, CRITICAL].",
    request_body(content = crate::openapi::Object, content_type = "application/json"),
    responses((status = 201, description = "The model; ETag is its version", body = crate::openapi::Object), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    caller.require(Role::Analyst)?;
    let spec = ModelSpec::from_json(&parse_json(&body)?).map_err(ApiError::Invalid)?;
    let v = service::create_model(
        state.store.as_ref(),
        &caller.origin(&request_id),
        spec,
        state.clock.now(),
    )
    .await?;
    let mut resp = represented(StatusCode::CREATED, &v);
    if let Ok(loc) = HeaderValue::from_str(&format!("/models/{}", v.model.id())) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

#[utoipa::path(
    get,
    path = "/models",
    tag = "drift",
    operation_id = "models_list",
    summary = "Monitored models, by id",
    description = "Role: viewer.",
    params(crate::openapi::PageQuery),
    responses((status = 200, description = "A page of models", body = crate::openapi::Page), crate::openapi::ReadErrors),
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    p: Params,
) -> Result<Json<Value>, ApiError> {
    let (limit, cursor) = p.finish_page(100, 20, &repo::list_query(&caller.tenant))?;
    let page = repo::models_page(state.store.as_ref(), &caller.tenant, limit, cursor).await?;
    let items = page
        .items
        .iter()
        .map(|i| repo::model_from(i).map(|m| repo::model_view(&m, i.version)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(page_json(items, Some(limit), page.next.as_ref()))
}

#[utoipa::path(
    get,
    path = "/models/{id}",
    tag = "drift",
    operation_id = "models_get",
    summary = "One model; ETag is its version",
    description = "Role: viewer.",
    params(crate::openapi::IdPath),
    responses((status = 200, description = "The model", body = crate::openapi::Object), crate::openapi::ReadErrors),
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

/// An RFC 7396 merge patch; audited as `model.update`.
#[utoipa::path(
    patch,
    path = "/models/{id}",
    tag = "drift",
    operation_id = "models_patch",
    summary = "Change a model's settings (merge patch; model_id is fixed)",
    description = "Role: analyst.",
    params(crate::openapi::IdPath, crate::openapi::IfMatch),
    request_body(content = crate::openapi::Object, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The model after the change", body = crate::openapi::Object), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    caller.require(Role::Analyst)?;
    let wanted = if_match(&headers)?;
    let patch = parse_json(&body)?;
    let v = service::update_model(
        state.store.as_ref(),
        &caller.origin(&request_id),
        &id,
        wanted.as_deref(),
        &patch,
        state.clock.now(),
    )
    .await?;
    Ok(represented(StatusCode::OK, &v))
}

/// Audited as `model.delete`.
#[utoipa::path(
    delete,
    path = "/models/{id}",
    tag = "drift",
    operation_id = "models_delete",
    summary = "Stop monitoring a model and forget it",
    description = "Role: analyst.",
    params(crate::openapi::IdPath, crate::openapi::IfMatch),
    responses((status = 204, description = "Deleted"), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Analyst)?;
    let wanted = if_match(&headers)?;
    service::delete_model(
        state.store.as_ref(),
        &caller.origin(&request_id),
        &id,
        wanted.as_deref(),
        state.clock.now(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Audited as `model.baseline`.
#[utoipa::path(
    put,
    path = "/models/{id}/baseline",
    tag = "drift",
    operation_id = "models_put_baseline",
    summary = "Freeze a new baseline version from reference data",
    description = "Role: analyst. Body: {baseline_data: {feature: [values]}, reference_predictions: [numbers]?}; up to 10,000 values per column, 5 MiB.",
    params(crate::openapi::IdPath),
    request_body(content = crate::openapi::Object, content_type = "application/json"),
    responses((status = 201, description = "The new baseline: edges, reference counts, categories", body = crate::openapi::Object), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn put_baseline(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    Path(id): Path<String>,
    LargeJsonBody(body): LargeJsonBody,
) -> Result<Response, ApiError> {
    caller.require(Role::Analyst)?;
    let value = parse_json(&body)?;
    let (v, b) = service::put_baseline(
        state.store.as_ref(),
        &caller.origin(&request_id),
        &id,
        &value,
        state.clock.now(),
    )
    .await?;
    Ok(with_etag(
        (StatusCode::CREATED, Json(service::baseline_view(&id, &b))).into_response(),
        v.version,
    ))
}

#[utoipa::path(
    get,
    path = "/models/{id}/baseline",
    tag = "drift",
    operation_id = "models_get_baseline",
    summary = "The current baseline (or ?version=N an earlier one)",
    description = "Role: viewer.",
    params(crate::openapi::IdPath, ("version" = Option<u64>, Query, description = "A baseline version")),
    responses((status = 200, description = "The baseline", body = crate::openapi::Object), crate::openapi::ReadErrors),
)]
pub async fn get_baseline(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    mut p: Params,
) -> Result<Json<Value>, ApiError> {
    let v = load(&state, &caller, &id).await?;
    let version = p.number("version", 1, usize::MAX, 0) as u64;
    p.finish()?;
    let version = if version == 0 {
        v.model.baseline_version
    } else {
        version
    };
    if version == 0 {
        return Err(ApiError::NotFound("baseline"));
    }
    let b = repo::get_baseline(state.store.as_ref(), &caller.tenant, &v.model.uid, version)
        .await?
        .ok_or(ApiError::NotFound("baseline"))?;
    Ok(Json(service::baseline_view(&id, &b)))
}

/// Folded into the model's windows before answering: a 202 is durable.
#[utoipa::path(
    post,
    path = "/models/{id}/observations",
    tag = "drift",
    operation_id = "models_observe",
    summary = "Record observations (up to 10,000 rows or 5 MiB)",
    description = "Role: analyst. Body: {rows: [{features: {name: value}, prediction?, label?, groups?: {attribute: group}, timestamp?, observation_id?}]}. With an Idempotency-Key a retry adds nothing and gets the first answer back.",
    params(crate::openapi::IdPath, ("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key and body gets the first answer back")),
    request_body(content = crate::openapi::Object, content_type = "application/json"),
    responses((status = 202, description = "Folded into the windows", body = crate::openapi::Object), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn observe(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    LargeJsonBody(body): LargeJsonBody,
) -> Result<Response, ApiError> {
    caller.require(Role::Analyst)?;
    let now = state.clock.now();
    let store = state.store.as_ref();
    let key = idempotency_key(&headers)?;
    let scope = format!("{OBSERVATIONS_SCOPE}#{id}");
    let hash = idempotency::request_hash(&scope, &body);
    if let Some(k) = &key {
        if let Some(prior) = idempotency::lookup(store, &caller.tenant, &scope, k, now).await? {
            if prior.request_hash != hash {
                return Err(ApiError::field(
                    "Idempotency-Key",
                    "was already used with a different request body",
                ));
            }
            let status = StatusCode::from_u16(prior.status).unwrap_or(StatusCode::ACCEPTED);
            return Ok(
                (status, [("idempotent-replayed", "true")], Json(prior.body)).into_response(),
            );
        }
    }
    let value = parse_json(&body)?;
    let batch = service::batch_name(&caller.tenant, key.as_deref());
    let summary = service::observe(
        store,
        &caller.tenant,
        &id,
        &value,
        &batch,
        now,
        DEFAULT_CAPACITY,
    )
    .await?;
    let answer = json!(summary);
    if let Some(k) = &key {
        let first = idempotency::Answer {
            request_hash: hash,
            status: 202,
            body: answer.clone(),
        };
        idempotency::record(store, &caller.tenant, &scope, k, first, now).await?;
    }
    Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
}

fn time_field(v: &Value, name: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.to_utc()))
            .map_err(|_| ApiError::field(name, "must be an RFC 3339 date-time")),
        Some(_) => Err(ApiError::field(name, "must be an RFC 3339 date-time")),
    }
}

/// Runs a check now and answers its result; audited as `model.check`.
#[utoipa::path(
    post,
    path = "/models/{id}/checks",
    tag = "drift",
    operation_id = "models_check",
    summary = "Run a drift check now",
    description = "Role: analyst. With input_data (and optionally output_data, bias_data) the check runs on that data, as the seed's run_scheduled; without, on the observations since the previous check (or from/to, RFC 3339).",
    params(crate::openapi::IdPath),
    request_body(content = crate::openapi::Object, content_type = "application/json"),
    responses((status = 201, description = "The check result (DriftCheckResult)", body = crate::openapi::Object), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn run_check(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    Path(id): Path<String>,
    OptionalLargeJsonBody(body): OptionalLargeJsonBody,
) -> Result<Response, ApiError> {
    caller.require(Role::Analyst)?;
    let value = if body.is_empty() {
        json!({})
    } else {
        parse_json(&body)?
    };
    if !value.is_object() {
        return Err(ApiError::field("body", "must be a JSON object"));
    }
    let inline = ["input_data", "output_data", "bias_data"]
        .iter()
        .any(|k| value.get(k).is_some_and(|v| !v.is_null()));
    let input = if inline {
        for k in ["from", "to"] {
            if value.get(k).is_some() {
                return Err(ApiError::field(k, "applies only to checks on observations"));
            }
        }
        CheckInput::Inline(value)
    } else {
        if let Some(k) = value
            .as_object()
            .and_then(|o| o.keys().find(|k| !["from", "to"].contains(&k.as_str())))
        {
            return Err(ApiError::field(k, "is not a check field"));
        }
        let (from, to) = (time_field(&value, "from")?, time_field(&value, "to")?);
        if let (Some(f), Some(t)) = (from, to) {
            if f >= t {
                return Err(ApiError::field("to", "must be after from"));
            }
        }
        CheckInput::Observations { from, to }
    };
    let model = load(&state, &caller, &id).await?;
    let origin = caller.origin(&request_id);
    let run = CheckRun {
        origin: &origin,
        check_id: check::manual_check_id(),
        trigger: Trigger::Manual,
        input,
        final_attempt: false,
        reservoir_cap: DEFAULT_CAPACITY,
    };
    let now = state.clock.now();
    let result = service::run_check(state.store.as_ref(), &model, &run, now).await?;
    if result.alert_state == check::AlertState::Pending {
        let msg = service::alert_message(&caller.tenant, &result.check_id, Some(request_id.0))?;
        state.queue.send(QueueName::Drift, vec![msg]).await?;
    }
    let mut resp = (StatusCode::CREATED, Json(json!(result))).into_response();
    if let Ok(loc) = HeaderValue::from_str(&format!("/models/{id}/checks/{}", result.check_id)) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

#[utoipa::path(
    get,
    path = "/models/{id}/checks",
    tag = "drift",
    operation_id = "models_checks",
    summary = "A model's check history, newest first",
    description = "Role: viewer.",
    params(crate::openapi::IdPath, ("status" = Option<String>, Query, description = "PENDING, RUNNING, COMPLETED, FAILED or SKIPPED"), ("alert_level" = Option<String>, Query, description = "NORMAL, WARNING or CRITICAL"), ("from" = Option<String>, Query, description = "RFC 3339 or YYYY-MM-DD"), ("to" = Option<String>, Query, description = "RFC 3339 or YYYY-MM-DD"), crate::openapi::PageQuery),
    responses((status = 200, description = "A page of checks", body = crate::openapi::Page), crate::openapi::ReadErrors),
)]
pub async fn checks(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    mut p: Params,
) -> Result<Json<Value>, ApiError> {
    let status = p.parsed(
        "status",
        ExecutionStatus::parse,
        "PENDING, RUNNING, COMPLETED, FAILED, SKIPPED",
    );
    let level = p.parsed(
        "alert_level",
        check::parse_level,
        "NORMAL, WARNING, CRITICAL",
    );
    let from = p.time("from", DayEdge::Start);
    let to = p.time("to", DayEdge::End);
    let model = load(&state, &caller, &id).await?;
    let q = repo::checks_query(&caller.tenant, &model.model.uid, from, to);
    let (limit, cursor) = p.finish_page(100, 20, &q)?;
    let got = query_filtered(
        state.store.as_ref(),
        q.after(cursor),
        limit,
        5_000,
        |item| {
            repo::check_from(item).is_ok_and(|c| {
                status.is_none_or(|s| c.status == s)
                    && level.is_none_or(|l| c.alert_level == Some(l))
            })
        },
    )
    .await?;
    let items = got
        .items
        .iter()
        .map(repo::check_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(page_json(items, Some(limit), got.next.as_ref()))
}

#[utoipa::path(
    get,
    path = "/models/{id}/checks/{check_id}",
    tag = "drift",
    operation_id = "models_check_get",
    summary = "One check result",
    description = "Role: viewer.",
    params(crate::openapi::IdPath, ("check_id" = String, Path, description = "The check id")),
    responses((status = 200, description = "The check", body = crate::openapi::Object), crate::openapi::ReadErrors),
)]
pub async fn check_get(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, check_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let model = load(&state, &caller, &id).await?;
    let c = repo::get_check(state.store.as_ref(), &caller.tenant, &check_id)
        .await?
        .filter(|c| c.check.model_uid == model.model.uid)
        .ok_or(ApiError::NotFound("check"))?;
    Ok(Json(json!(c.check)))
}

#[utoipa::path(
    get,
    path = "/drift/schedule",
    tag = "drift",
    operation_id = "drift_schedule",
    summary = "When each model is checked next (the seed's get_schedule)",
    description = "Role: viewer.",
    params(crate::openapi::PageQuery),
    responses((status = 200, description = "{schedules: [{model_id, schedule_interval, schedule_cron, enabled, next_run_time, last_run_time}], next_cursor}", body = crate::openapi::Object), crate::openapi::ReadErrors),
)]
pub async fn schedule(
    State(state): State<AppState>,
    caller: Caller,
    p: Params,
) -> Result<Json<Value>, ApiError> {
    let store = state.store.as_ref();
    let (limit, cursor) = p.finish_page(100, 50, &repo::list_query(&caller.tenant))?;
    let page = repo::models_page(store, &caller.tenant, limit, cursor).await?;
    let mut out = Vec::with_capacity(page.items.len());
    for item in &page.items {
        let m = repo::model_from(item)?;
        let s = repo::get_schedule(store, &caller.tenant, m.id()).await?;
        out.push(service::schedule_view(&m, s.as_ref().map(|s| &s.state)));
    }
    Ok(Json(json!({
        "schedules": out,
        "next_cursor": page.next.as_ref().map(vigil_shared::repo::page::encode_cursor),
    })))
}

#[utoipa::path(
    get,
    path = "/drift/stats",
    tag = "drift",
    operation_id = "drift_stats",
    summary = "Models and check executions (the seed's get_statistics)",
    description = "Role: viewer.",
    responses((status = 200, description = "Counts and the success rate in percent", body = crate::openapi::Object), crate::openapi::ReadErrors),
)]
pub async fn stats(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        service::statistics(state.store.as_ref(), &caller.tenant).await?,
    ))
}

/// This module's routes, each with its OpenAPI operation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get, patch, delete))
        .routes(routes!(put_baseline, get_baseline))
        .routes(routes!(observe))
        .routes(routes!(run_check, checks))
        .routes(routes!(check_get))
        .routes(routes!(schedule))
        .routes(routes!(stats))
}
