//! `GET /stats/summary`: the seed's dashboard shape plus rule and user rankings, all
//! read from counters kept on write.
use axum::Json;
use axum::extract::State;
use vigil_shared::repo::stats::{self, Summary};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[utoipa::path(
    get,
    path = "/stats/summary",
    tag = "stats",
    operation_id = "stats_summary",
    summary = "Dashboard numbers from counters kept on write",
    description = "Role: viewer. `findings_by_severity` counts every live finding, `open_findings_by_severity` the open and acknowledged ones (counted since the version that added it); `events_last_24h` the events whose time is in the 24 hours up to now; `events_over_time` events per UTC day.",
    responses((status = 200, description = "The summary", body = crate::openapi::StatsSummary), crate::openapi::ReadErrors),
)]
pub async fn summary(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Summary>, ApiError> {
    Ok(Json(
        stats::summary(state.store.as_ref(), &caller.tenant, state.clock.now()).await?,
    ))
}

/// This module's routes, each with its OpenAPI operation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(summary))
}
