//! `GET /stats/summary`: the seed's dashboard shape plus rule and user rankings, all
//! read from counters kept on write.
use axum::extract::State;
use axum::routing;
use axum::{Json, Router};
use vigil_shared::repo::stats::{self, Summary};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn summary(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Summary>, ApiError> {
    Ok(Json(
        stats::summary(state.store.as_ref(), &caller.tenant).await?,
    ))
}

/// This module's routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/stats/summary", routing::get(summary))
}
