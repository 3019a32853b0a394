//! Re-classification runs: `POST /admin/reclassify` (admins only) starts one for the
//! caller's tenant, 409 with the running run's id while another holds the lease.
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use vigil_shared::domain::Role;
use vigil_shared::domain::ai_system::RunTrigger;
use vigil_shared::repo::reclassify_runs as runs;
use vigil_shared::service::reclassify_runs::{self, Start};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::http::RequestId;
use crate::params::{Params, page_json};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Audited as `reclassify_run.start` by the caller's key.
#[utoipa::path(
    post,
    path = "/admin/reclassify",
    tag = "reclassify",
    operation_id = "reclassify_trigger",
    summary = "Start a re-classification run (409 with its id while one runs)",
    description = "Role: admin.",
    responses((status = 202, description = "The run", body = crate::openapi::Object), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn trigger(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Admin)?;
    match reclassify_runs::start(
        state.store.as_ref(),
        state.queue.as_ref(),
        &caller.origin(&request_id),
        RunTrigger::Api,
        Some(caller.key_id.clone()),
        state.clock.now(),
        state.reclassify.lease,
    )
    .await?
    {
        Start::Started(run) => Ok((
            StatusCode::ACCEPTED,
            Json(json!({"run_id": run.id, "status": run.status, "started_at": run.started_at})),
        )),
        Start::Busy { run_id } => Err(ApiError::RunInProgress(run_id)),
    }
}

#[utoipa::path(
    get,
    path = "/reclassify-runs",
    tag = "reclassify",
    operation_id = "reclassify_list",
    summary = "Re-classification runs",
    description = "Role: viewer.",
    params(crate::openapi::PageQuery),
    responses((status = 200, description = "A page of runs", body = crate::openapi::Page), crate::openapi::ReadErrors),
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    p: Params,
) -> Result<Json<Value>, ApiError> {
    let (limit, cursor) = p.finish_page(100, 20, &runs::list_query(&caller.tenant))?;
    let store = state.store.as_ref();
    let (items, next) = runs::list(store, &caller.tenant, limit, cursor).await?;
    let now = state.clock.now();
    let mut views = Vec::with_capacity(items.len());
    for r in items {
        if let Some(v) = runs::get(store, &caller.tenant, &r.id, now).await? {
            views.push(v);
        }
    }
    Ok(page_json(views, Some(limit), next.as_ref()))
}

#[utoipa::path(
    get,
    path = "/reclassify-runs/{id}",
    tag = "reclassify",
    operation_id = "reclassify_get",
    summary = "One run",
    description = "Role: viewer.",
    params(crate::openapi::IdPath),
    responses((status = 200, description = "The run", body = crate::openapi::Object), crate::openapi::ReadErrors),
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<runs::RunView>, ApiError> {
    runs::get(state.store.as_ref(), &caller.tenant, &id, state.clock.now())
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("re-classification run"))
}

/// This module's routes, each with its OpenAPI operation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(trigger))
        .routes(routes!(list))
        .routes(routes!(get))
}
