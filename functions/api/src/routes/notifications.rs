//! In-app notifications: unread first, newest first within each, cursor pagination.
use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde_json::{Value, json};
use vigil_shared::domain::notification::Notification;
use vigil_shared::repo::notifications;
use vigil_shared::repo::page::{cursor_in_partition, encode_cursor};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::params::Params;
use crate::state::AppState;

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
        if !cursor_in_partition(c, &notifications::unread_first_query(&caller.tenant)) {
            return Err(ApiError::field("cursor", "does not belong to this query"));
        }
    }
    let page =
        notifications::list_unread_first(state.store.as_ref(), &caller.tenant, limit, cursor)
            .await?;
    Ok(Json(json!({
        "items": page.items,
        "limit": limit,
        "next_cursor": page.next.as_ref().map(encode_cursor),
    })))
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
