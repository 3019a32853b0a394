//! In-app notifications: unread first, newest first within each, cursor pagination.
use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};
use vigil_shared::domain::notification::Notification;
use vigil_shared::repo::notifications;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::params::{Params, page_json};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[utoipa::path(
    get,
    path = "/notifications",
    tag = "notifications",
    operation_id = "notifications_list",
    summary = "In-app notifications, unread first",
    description = "Role: viewer.",
    params(crate::openapi::PageQuery),
    responses((status = 200, description = "A page of notifications", body = crate::openapi::Page), crate::openapi::ReadErrors),
)]
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

#[utoipa::path(
    post,
    path = "/notifications/{id}/read",
    tag = "notifications",
    operation_id = "notifications_read",
    summary = "Mark one read",
    description = "Role: viewer.",
    params(crate::openapi::IdPath),
    responses((status = 200, description = "The notification", body = crate::openapi::Object), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
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

#[utoipa::path(
    post,
    path = "/notifications/read-all",
    tag = "notifications",
    operation_id = "notifications_read_all",
    summary = "Mark all read",
    description = "Role: viewer.",
    responses((status = 200, description = "How many were marked", body = crate::openapi::Object), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn read_all(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let n = notifications::mark_all_read(state.store.as_ref(), &caller.tenant).await?;
    Ok(Json(json!({"marked_read": n})))
}

/// This module's routes, each with its OpenAPI operation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(read))
        .routes(routes!(read_all))
}
