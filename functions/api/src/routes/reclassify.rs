//! Re-classification runs: `POST /admin/reclassify` (admins only) starts one for the
//! caller's tenant, 409 with the running run's id while another holds the lease.
use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use vigil_shared::audit::Actor;
use vigil_shared::domain::Role;
use vigil_shared::domain::ai_system::RunTrigger;
use vigil_shared::reclassify::{RunError, start_run_by};
use vigil_shared::repo::page::{cursor_in_partition, encode_cursor};
use vigil_shared::repo::reclassify_runs::{self as runs, Start};

use super::audit::RequestId;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::params::Params;
use crate::state::AppState;

impl From<RunError> for ApiError {
    fn from(e: RunError) -> Self {
        match e {
            RunError::Store(s) => s.into(),
            RunError::Queue(q) => q.into(),
        }
    }
}

/// Audited as `reclassify_run.start` by the caller's key.
pub async fn trigger(
    State(state): State<AppState>,
    caller: Caller,
    RequestId(request_id): RequestId,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Admin)?;
    let lease = state.reclassify.lease;
    let actor = Actor::key(&caller.key_id);
    match start_run_by(
        state.store.as_ref(),
        state.queue.as_ref(),
        &caller.tenant,
        RunTrigger::Api,
        Some(caller.key_id.clone()),
        state.clock.now(),
        lease,
        runs::Audit {
            actor: &actor,
            request_id: Some(&request_id),
        },
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

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let mut p = Params::new(q);
    let limit = p.number("limit", 1, 100, 20);
    let cursor = p.cursor("cursor");
    p.finish()?;
    if let Some(c) = &cursor {
        if !cursor_in_partition(c, &runs::list_query(&caller.tenant)) {
            return Err(ApiError::field("cursor", "does not belong to this query"));
        }
    }
    let store = state.store.as_ref();
    let (items, next) = runs::list(store, &caller.tenant, limit, cursor).await?;
    let now = state.clock.now();
    let mut views = Vec::with_capacity(items.len());
    for r in items {
        if let Some(v) = runs::get(store, &caller.tenant, &r.id, now).await? {
            views.push(v);
        }
    }
    Ok(Json(json!({
        "items": views,
        "limit": limit,
        "next_cursor": next.as_ref().map(encode_cursor),
    })))
}

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
