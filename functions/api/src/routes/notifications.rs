//! In-app notifications: unread first, newest first within each, cursor pagination.
use axum::extract::{Path, State};
use axum::routing;
use axum::{Json, Router};
use serde_json::{Value, json};
use vigil_shared::domain::notification::Notification;
use vigil_shared::repo::notifications;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::params::{Params, page_json};
use crate::state::AppState;

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    p: Params,
) -> Result<Json<Value>, ApiError> {
    let (limit, cursor) =
        p.finish_page(100, 20, &notifications::unread_first_query(&caller.tenant))?;
    let page =
        notifications::list_unread_first(state.store.as_ref(), &caller.tenant, limit, cursor)
            .await?;
    Ok(page_json(page.items, Some(limit), page.next.as_ref()))
}

pub async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Notification>, ApiError> {
    notifications::set_read(state.store.as_ref(), &caller.tenant, &id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("notification"))
}

pub async fn read_all(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let n = notifications::mark_all_read(state.store.as_ref(), &caller.tenant).await?;
    Ok(Json(json!({"marked_read": n})))
}

/// This module's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/notifications", routing::get(list))
        .route("/notifications/read-all", routing::post(read_all))
        .route("/notifications/{id}/read", routing::post(read))
}
