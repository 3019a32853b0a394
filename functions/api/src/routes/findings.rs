//! Findings: listing (seed page parameters and cursors), detail, triage, enrichment,
//! and the NDJSON export (Vigil's JSON or OCSF).
use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use vigil_shared::domain::{FieldError, Finding, FindingStatus, Role, Severity, TenantId};
use vigil_shared::ports::{Cursor, ItemStore, StoreError};
use vigil_shared::repo::findings::{self as repo, FindingFilter};
use vigil_shared::repo::page::{self as repo_page, encode_cursor};
use vigil_shared::service::findings::{self, Triage};

use super::parse_json;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::http::RequestId;
use crate::http::body::JsonBody;
use crate::params::{DayEdge, Format, Params, check_cursor, page_json};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Deepest page the offset-style parameters may reach; cursors go further.
const MAX_OFFSET: usize = 10_000;
const MAX_NOTE: usize = 4_000;
/// Findings read per store page of an export; each page is sent before the next is read.
const EXPORT_PAGE: usize = 100;

fn filter_from(p: &mut Params) -> FindingFilter {
    FindingFilter {
        severity: p.parsed("severity", Severity::parse, "low, medium, high, critical"),
        user: p.string("user"),
        rule_id: p.string("rule_id"),
        status: p.parsed(
            "status",
            FindingStatus::parse,
            "open, acknowledged, resolved, merged",
        ),
        from: p
            .time("from_date", DayEdge::Start)
            .or_else(|| p.time("from", DayEdge::Start)),
        to: p
            .time("to_date", DayEdge::End)
            .or_else(|| p.time("to", DayEdge::End)),
    }
}

fn decode(items: &[vigil_shared::ports::Item]) -> Result<Vec<Finding>, ApiError> {
    Ok(items
        .iter()
        .map(repo::from_item)
        .collect::<Result<Vec<_>, _>>()?)
}

#[utoipa::path(
    get,
    path = "/findings",
    tag = "findings",
    operation_id = "findings_list",
    summary = "Findings: page/page_size (seed) or limit/cursor",
    description = "Role: viewer.",
    params(("severity" = Option<String>, Query, description = "low, medium, high, critical"), ("user" = Option<String>, Query, description = "Exact user"), ("rule_id" = Option<String>, Query, description = "Rule id"), ("status" = Option<String>, Query, description = "open, acknowledged, resolved, merged (merged findings are listed only when asked for)"), ("from_date" = Option<String>, Query, description = "RFC 3339 or YYYY-MM-DD"), ("to_date" = Option<String>, Query, description = "RFC 3339 or YYYY-MM-DD"), ("page" = Option<String>, Query, description = "1-based page"), ("page_size" = Option<String>, Query, description = "1-100"), crate::openapi::PageQuery),
    responses((status = 200, description = "A page of findings", body = crate::openapi::Page), crate::openapi::ReadErrors),
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    mut p: Params,
) -> Result<Json<Value>, ApiError> {
    let store = state.store.as_ref();
    let tenant = &caller.tenant;
    let filter = filter_from(&mut p);
    let cursor = p.cursor("cursor");
    let cursor_mode = cursor.is_some() || p.string("limit").is_some();
    let page_size = p.number("page_size", 1, 100, 20);
    let page = p.number("page", 1, MAX_OFFSET, 1);
    let limit = p.number("limit", 1, 100, page_size);
    if !cursor_mode && page * page_size > MAX_OFFSET {
        p.fail(
            "page",
            format!("page × page_size must stay within {MAX_OFFSET}; use cursor pagination"),
        );
    }
    p.finish()?;
    if cursor_mode {
        check_cursor(cursor.as_ref(), &repo::list_query(tenant, &filter))?;
        let got = repo::list(store, tenant, &filter, limit, cursor).await?;
        return Ok(page_json(
            decode(&got.items)?,
            Some(limit),
            got.next.as_ref(),
        ));
    }
    // Offset pages, as the seed's API serves them.
    let got = repo::page_at(store, tenant, &filter, (page - 1) * page_size, page_size).await?;
    let (items, next) = (decode(&got.items)?, got.next);
    let total = repo::total(store, tenant, &filter).await?;
    Ok(Json(json!({
        "items": items,
        "total": total,
        "page": page,
        "page_size": page_size,
        "next_cursor": next.as_ref().map(encode_cursor),
    })))
}

#[utoipa::path(
    get,
    path = "/findings/{id}",
    tag = "findings",
    operation_id = "findings_get",
    summary = "One finding, as Vigil's JSON or an OCSF Detection Finding",
    description = "Role: viewer. `format=ocsf` answers an OCSF 1.8.0 Detection Finding (class_uid 2004) with its evidence events.",
    params(crate::openapi::IdPath, crate::openapi::FormatQuery),
    responses((status = 200, description = "The finding", body = crate::openapi::Object), crate::openapi::ReadErrors),
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    mut p: Params,
) -> Result<Response, ApiError> {
    let format = p.format();
    p.finish()?;
    let store = state.store.as_ref();
    let f = repo::get(store, &caller.tenant, &id)
        .await?
        .ok_or(ApiError::NotFound("finding"))?
        .finding;
    Ok(match format {
        Format::Json => Json(f).into_response(),
        Format::Ocsf => Json(findings::as_ocsf(store, &caller.tenant, &f).await?).into_response(),
    })
}

/// One NDJSON line of `f` in `format`.
async fn export_line(
    store: &dyn ItemStore,
    tenant: &TenantId,
    f: &Finding,
    format: Format,
) -> Result<String, StoreError> {
    let doc = match format {
        Format::Json => {
            serde_json::to_value(f).map_err(|e| StoreError::Malformed(e.to_string()))?
        }
        Format::Ocsf => findings::as_ocsf(store, tenant, f).await?,
    };
    Ok(format!("{doc}\n"))
}

/// Where an export stands: the page read before the answer started, the cursor of
/// the next page, or finished.
enum ExportAt {
    Page(repo_page::Filtered),
    After(Cursor),
    Done,
}

/// The export's body: one chunk of NDJSON per store page, each page read only when the
/// previous one has been handed to the client, so memory holds one page at a time.
fn export_body(
    store: Arc<dyn ItemStore>,
    tenant: TenantId,
    filter: FindingFilter,
    format: Format,
    first: repo_page::Filtered,
) -> Body {
    let pages = futures::stream::unfold(ExportAt::Page(first), move |at| {
        let (store, tenant, filter) = (store.clone(), tenant.clone(), filter.clone());
        async move {
            let page = match at {
                ExportAt::Done => return None,
                ExportAt::Page(p) => Ok(p),
                ExportAt::After(c) => {
                    repo::list(store.as_ref(), &tenant, &filter, EXPORT_PAGE, Some(c)).await
                }
            };
            let chunk = match page {
                Ok(page) => render_page(store.as_ref(), &tenant, &page, format)
                    .await
                    .map(|text| (text, page.next)),
                Err(e) => Err(e),
            };
            match chunk {
                Ok((text, next)) => {
                    let at = next.map_or(ExportAt::Done, ExportAt::After);
                    Some((Ok::<_, StoreError>(Bytes::from(text)), at))
                }
                // The status line is gone by now: the error ends the body early, so
                // the client sees a truncated export rather than a complete-looking one.
                Err(e) => {
                    tracing::error!(error = %e, "findings export failed mid-stream");
                    Some((Err(e), ExportAt::Done))
                }
            }
        }
    });
    Body::from_stream(pages)
}

async fn render_page(
    store: &dyn ItemStore,
    tenant: &TenantId,
    page: &repo_page::Filtered,
    format: Format,
) -> Result<String, StoreError> {
    let mut text = String::new();
    for item in &page.items {
        let f = repo::from_item(item)?;
        text.push_str(&export_line(store, tenant, &f, format).await?);
    }
    Ok(text)
}

/// `GET /findings/export?format=ocsf|json&from=&to=`: every finding the list would
/// give for the same filters, one per line, streamed page by page.
#[utoipa::path(
    get,
    path = "/findings/export",
    tag = "findings",
    operation_id = "findings_export",
    summary = "Export findings as NDJSON: OCSF Detection Findings or Vigil's JSON",
    description = "Role: viewer. The findings `GET /findings` lists for the same filters (`from`/`to` bound the first evidence time), newest first, one document per line; merged findings only with `status=merged`.",
    params(crate::openapi::FormatQuery, ("severity" = Option<String>, Query, description = "low, medium, high, critical"), ("user" = Option<String>, Query, description = "Exact user"), ("rule_id" = Option<String>, Query, description = "Rule id"), ("status" = Option<String>, Query, description = "open, acknowledged, resolved, merged"), ("from" = Option<String>, Query, description = "RFC 3339 or YYYY-MM-DD"), ("to" = Option<String>, Query, description = "RFC 3339 or YYYY-MM-DD")),
    responses((status = 200, description = "One finding per line", content((String = "application/x-ndjson"))), crate::openapi::ReadErrors),
)]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    mut p: Params,
) -> Result<Response, ApiError> {
    let format = p.format();
    let filter = filter_from(&mut p);
    p.finish()?;
    // The first page is read before answering, so a store that is down is a proper
    // error answer rather than an empty export.
    let first = repo::list(
        state.store.as_ref(),
        &caller.tenant,
        &filter,
        EXPORT_PAGE,
        None,
    )
    .await?;
    let name = match format {
        Format::Json => "findings",
        Format::Ocsf => "findings-ocsf",
    };
    let body = export_body(
        state.store.clone(),
        caller.tenant.clone(),
        filter,
        format,
        first,
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{name}-{}.ndjson\"",
                    caller.tenant.as_str()
                ),
            ),
        ],
        body,
    )
        .into_response())
}

/// Triage: `status` and `note`. Analysts and admins. Audited as `finding.update`.
#[utoipa::path(
    patch,
    path = "/findings/{id}",
    tag = "findings",
    operation_id = "findings_patch",
    summary = "Triage: status and note",
    description = "Role: analyst.",
    params(crate::openapi::IdPath),
    request_body(content = crate::openapi::FindingPatch, content_type = "application/json"),
    responses((status = 200, description = "The finding after triage", body = crate::openapi::Object), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Finding>, ApiError> {
    caller.require(Role::Analyst)?;
    let value = parse_json(&body)?;
    let obj = value
        .as_object()
        .ok_or_else(|| ApiError::field("", "body must be a JSON object"))?;
    let mut errors = Vec::new();
    let mut status = None;
    let mut note = None;
    for (k, v) in obj {
        match (k.as_str(), v) {
            ("status", Value::String(s)) => match FindingStatus::parse(s) {
                Some(FindingStatus::Merged) => errors.push(FieldError::new(
                    "status",
                    "merged is set by Vigil when a finding joins another; use open, acknowledged or resolved",
                )),
                Some(st) => status = Some(st),
                None => errors.push(FieldError::new(
                    "status",
                    "must be open, acknowledged or resolved",
                )),
            },
            ("status", _) => errors.push(FieldError::new("status", "must be a string")),
            ("note", Value::String(s)) if s.len() <= MAX_NOTE => note = Some(Some(s.clone())),
            ("note", Value::Null) => note = Some(None),
            ("note", _) => errors.push(FieldError::new(
                "note",
                format!("must be a string of at most {MAX_NOTE} characters"),
            )),
            (other, _) => errors.push(FieldError::new(other, "is not a field that can be changed")),
        }
    }
    if status.is_none() && note.is_none() && errors.is_empty() {
        errors.push(FieldError::new("", "give status and/or note"));
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let change = Triage { status, note };
    let f = findings::triage(
        state.store.as_ref(),
        &caller.origin(&request_id),
        &id,
        &change,
        state.clock.now(),
    )
    .await?;
    Ok(Json(f))
}

/// On-demand enrichment; audited as `finding.enrich`.
#[utoipa::path(
    post,
    path = "/findings/{id}/enrich_with_ai",
    tag = "findings",
    operation_id = "findings_enrich_one",
    summary = "Score and explain one finding again",
    description = "Role: analyst.",
    params(crate::openapi::IdPath),
    responses((status = 200, description = "The enriched finding", body = crate::openapi::Object), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn enrich_one(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    Path(id): Path<String>,
) -> Result<Json<Finding>, ApiError> {
    caller.require(Role::Analyst)?;
    findings::enrich(
        state.store.as_ref(),
        &state.enricher,
        &caller.tenant,
        &id,
        true,
        state.clock.now(),
        Some(&caller.origin(&request_id)),
    )
    .await?
    .map(Json)
    .ok_or(ApiError::NotFound("finding"))
}

#[utoipa::path(
    post,
    path = "/findings/enrich_all_missing",
    tag = "findings",
    operation_id = "findings_enrich_missing",
    summary = "Enrich findings that have no enrichment yet",
    description = "Role: analyst.",
    params(("limit" = Option<u32>, Query, description = "At most this many (1-500)")),
    responses((status = 200, description = "The findings enriched", body = Vec<crate::openapi::Object>), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn enrich_missing(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestId,
    mut p: Params,
) -> Result<Json<Vec<Finding>>, ApiError> {
    caller.require(Role::Analyst)?;
    let limit = p.number("limit", 1, 500, 50);
    p.finish()?;
    let store = state.store.as_ref();
    let origin = caller.origin(&request_id);
    let missing = repo::missing_enrichment(store, &caller.tenant, limit).await?;
    let mut out = Vec::with_capacity(missing.len());
    for f in missing {
        if let Some(done) = findings::enrich(
            store,
            &state.enricher,
            &caller.tenant,
            &f.id,
            false,
            state.clock.now(),
            Some(&origin),
        )
        .await?
        {
            out.push(done);
        }
    }
    Ok(Json(out))
}

/// This module's routes, each with its OpenAPI operation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        // A static segment outranks `{id}` in axum's router, so `export` is no id.
        .routes(routes!(export))
        .routes(routes!(get, patch))
        .routes(routes!(enrich_one))
        .routes(routes!(enrich_missing))
}
