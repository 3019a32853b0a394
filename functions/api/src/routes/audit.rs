//! The audit ledger over HTTP: entries and stats for analysts, checkpoints and proofs for
//! any caller of the tenant, verification and export for admins.
use std::collections::HashMap;
use std::convert::Infallible;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use vigil_shared::audit::export::{self, Format, Record};
use vigil_shared::audit::ledger as audit_ledger;
use vigil_shared::audit::{AuditError, CheckpointSigner};
use vigil_shared::domain::Role;
use vigil_shared::repo::audit::{self as ledger, EntryFilter};

use super::parse_json;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::http::body::OptionalJsonBody;
use crate::params::{DayEdge, Params, page_json};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

fn signer(state: &AppState) -> Result<&CheckpointSigner, ApiError> {
    state
        .audit_signer
        .as_deref()
        .ok_or_else(|| AuditError::NoSigner.into())
}

/// `GET /audit/entries`: newest first, filtered, cursor-paginated.
#[utoipa::path(
    get,
    path = "/audit/entries",
    tag = "audit",
    operation_id = "audit_entries",
    summary = "Ledger entries, newest first",
    description = "Role: analyst.",
    params(("actor" = Option<String>, Query, description = "Actor"), ("action" = Option<String>, Query, description = "Action, e.g. api_key.create"), ("resource_type" = Option<String>, Query, description = "Resource type"), ("resource_id" = Option<String>, Query, description = "Resource id"), ("from" = Option<String>, Query, description = "RFC 3339 or YYYY-MM-DD"), ("to" = Option<String>, Query, description = "RFC 3339 or YYYY-MM-DD"), crate::openapi::PageQuery),
    responses((status = 200, description = "A page of entries", body = crate::openapi::Page), crate::openapi::ReadErrors),
)]
pub async fn entries(
    State(state): State<AppState>,
    caller: Caller,
    mut p: Params,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Analyst)?;
    let filter = EntryFilter {
        actor: p.string("actor"),
        action: p.string("action"),
        resource_type: p.string("resource_type"),
        resource_id: p.string("resource_id"),
        from: p.time("from", DayEdge::Start),
        to: p.time("to", DayEdge::End),
    };
    let (limit, cursor) = p.finish_page(500, 50, &ledger::list_query(&caller.tenant, &filter))?;
    let (items, next) =
        ledger::list(state.store.as_ref(), &caller.tenant, &filter, limit, cursor).await?;
    Ok(page_json(items, Some(limit), next.as_ref()))
}

/// `GET /audit/stats`.
#[utoipa::path(
    get,
    path = "/audit/stats",
    tag = "audit",
    operation_id = "audit_stats",
    summary = "Ledger statistics",
    description = "Role: analyst.",
    responses((status = 200, description = "The statistics", body = crate::openapi::Object), crate::openapi::ReadErrors),
)]
pub async fn stats(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<ledger::Stats>, ApiError> {
    caller.require(Role::Analyst)?;
    Ok(Json(
        ledger::stats(state.store.as_ref(), &caller.tenant).await?,
    ))
}

/// `GET /audit/checkpoints/latest`.
#[utoipa::path(
    get,
    path = "/audit/checkpoints/latest",
    tag = "audit",
    operation_id = "audit_latest_checkpoint",
    summary = "The latest signed checkpoint",
    description = "Role: viewer.",
    responses((status = 200, description = "The checkpoint", body = crate::openapi::Object), crate::openapi::ReadErrors),
)]
pub async fn latest_checkpoint(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let cp = ledger::latest_checkpoint(state.store.as_ref(), &caller.tenant)
        .await?
        .ok_or(ApiError::NotFound("checkpoint"))?;
    Ok(Json(json!(cp)))
}

/// `POST /audit/checkpoints`: verifies the log and signs its current tree (admin).
#[utoipa::path(
    post,
    path = "/audit/checkpoints",
    tag = "audit",
    operation_id = "audit_create_checkpoint",
    summary = "Verify the log and sign its current tree",
    description = "Role: admin.",
    responses((status = 201, description = "The checkpoint", body = crate::openapi::Object), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn create_checkpoint(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Admin)?;
    let cp = audit_ledger::create_checkpoint(
        state.store.as_ref(),
        &caller.tenant,
        signer(&state)?,
        state.clock.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!(cp))))
}

fn seq_param(p: &mut Params, name: &str) -> Option<u64> {
    let v = p.string(name)?;
    match v.parse::<u64>() {
        Ok(n) if n >= 1 => Some(n),
        _ => {
            p.fail(name, "must be a whole number of at least 1");
            None
        }
    }
}

/// `GET /audit/proofs/inclusion?seq=&tree_size=`.
#[utoipa::path(
    get,
    path = "/audit/proofs/inclusion",
    tag = "audit",
    operation_id = "audit_inclusion",
    summary = "RFC 9162 inclusion proof",
    description = "Role: viewer.",
    params(("seq" = u64, Query, description = "Entry sequence number (from 1)"), ("tree_size" = Option<u64>, Query, description = "Tree size; the current one by default")),
    responses((status = 200, description = "The proof", body = crate::openapi::Object), crate::openapi::ReadErrors),
)]
pub async fn inclusion(
    State(state): State<AppState>,
    caller: Caller,
    mut p: Params,
) -> Result<Json<Value>, ApiError> {
    let seq = seq_param(&mut p, "seq");
    let tree_size = seq_param(&mut p, "tree_size");
    if seq.is_none() && p.string("seq").is_none() {
        p.fail("seq", "is required");
    }
    p.finish()?;
    let seq = seq.ok_or_else(|| ApiError::field("seq", "is required"))?;
    let proof =
        audit_ledger::inclusion_proof(state.store.as_ref(), &caller.tenant, seq, tree_size).await?;
    Ok(Json(json!(proof)))
}

/// `GET /audit/proofs/consistency?from=&to=`.
#[utoipa::path(
    get,
    path = "/audit/proofs/consistency",
    tag = "audit",
    operation_id = "audit_consistency",
    summary = "RFC 9162 consistency proof",
    description = "Role: viewer.",
    params(("from" = u64, Query, description = "Older tree size"), ("to" = Option<u64>, Query, description = "Newer tree size; the current one by default")),
    responses((status = 200, description = "The proof", body = crate::openapi::Object), crate::openapi::ReadErrors),
)]
pub async fn consistency(
    State(state): State<AppState>,
    caller: Caller,
    mut p: Params,
) -> Result<Json<Value>, ApiError> {
    let from = seq_param(&mut p, "from");
    let to = seq_param(&mut p, "to");
    p.finish()?;
    let from = from.ok_or_else(|| ApiError::field("from", "is required"))?;
    let proof =
        audit_ledger::consistency_proof(state.store.as_ref(), &caller.tenant, from, to).await?;
    Ok(Json(json!(proof)))
}

/// A sequence range from `from_seq`/`to_seq` or `from`/`to` times (JSON or query).
async fn range(
    state: &AppState,
    caller: &Caller,
    mut p: Params,
) -> Result<(Option<u64>, Option<u64>), ApiError> {
    let mut from = seq_param(&mut p, "from_seq");
    let mut to = seq_param(&mut p, "to_seq");
    let from_t = p.time("from", DayEdge::Start);
    let to_t = p.time("to", DayEdge::End);
    p.finish()?;
    let store = state.store.as_ref();
    if let Some(t) = from_t {
        // Nothing at or after `from`: an empty range past the end.
        from = Some(
            audit_ledger::seq_at(store, &caller.tenant, t, true)
                .await?
                .unwrap_or(u64::MAX / 4),
        );
    }
    if let Some(t) = to_t {
        to = Some(
            audit_ledger::seq_at(store, &caller.tenant, t, false)
                .await?
                .unwrap_or(0),
        );
    }
    if let (Some(a), Some(b)) = (from, to) {
        if a > b {
            return Err(ApiError::field("range", "contains no entries"));
        }
    }
    Ok((from, to))
}

fn body_params(body: &Bytes, q: HashMap<String, String>) -> Result<Params, ApiError> {
    let mut map = q;
    if !body.is_empty() {
        let v = parse_json(body)?;
        let obj = v
            .as_object()
            .ok_or_else(|| ApiError::field("", "body must be a JSON object"))?;
        for (k, v) in obj {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Null => continue,
                _ => return Err(ApiError::field(k, "must be a string or a number")),
            };
            map.insert(k.clone(), s);
        }
    }
    Ok(Params::new(map))
}

/// `POST /audit/verify`: recomputes hashes, links, head and checkpoint roots (admin).
#[utoipa::path(
    post,
    path = "/audit/verify",
    tag = "audit",
    operation_id = "audit_verify",
    summary = "Recompute hashes, links, head and checkpoint roots over a range",
    description = "Role: admin.",
    params(("from_seq" = Option<u64>, Query, description = "First sequence number"), ("to_seq" = Option<u64>, Query, description = "Last sequence number")),
    request_body(content = Option<crate::openapi::RangeIn>, content_type = "application/json"),
    responses((status = 200, description = "The verification report", body = crate::openapi::Object), crate::openapi::ReadErrors, crate::openapi::WriteErrors),
)]
pub async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
    OptionalJsonBody(body): OptionalJsonBody,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let (from, to) = range(&state, &caller, body_params(&body, q)?).await?;
    let trusted = state.audit_signer.as_ref().map(|s| s.verifying_key());
    let store = state.store.as_ref();
    let report =
        audit_ledger::verify_range(store, &caller.tenant, from, to, trusted.as_ref()).await?;
    audit_ledger::record_verification(store, &caller.tenant, &report, state.clock.now()).await?;
    Ok(Json(json!(report)))
}

/// `GET /audit/export?format=ndjson|csv&from_seq=&to_seq=` (admin): signs a checkpoint
/// covering the log and streams the range with the proofs to verify it offline.
#[utoipa::path(
    get,
    path = "/audit/export",
    tag = "audit",
    operation_id = "audit_export",
    summary = "Export a range with a fresh checkpoint and the proofs to verify it offline",
    description = "Role: admin.",
    params(("format" = Option<String>, Query, description = "ndjson or csv"), ("from" = Option<String>, Query, description = "RFC 3339 or YYYY-MM-DD"), ("to" = Option<String>, Query, description = "RFC 3339 or YYYY-MM-DD"), ("from_seq" = Option<u64>, Query, description = "First sequence number"), ("to_seq" = Option<u64>, Query, description = "Last sequence number")),
    responses((status = 200, description = "The export", content((String = "application/x-ndjson"), (String = "text/csv"))), crate::openapi::ReadErrors),
)]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    mut p: Params,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let format = p
        .parsed(
            "format",
            |s| match s {
                "ndjson" => Some(Format::Ndjson),
                "csv" => Some(Format::Csv),
                _ => None,
            },
            "ndjson, csv",
        )
        .unwrap_or(Format::Ndjson);
    let (from, to) = range(&state, &caller, p).await?;
    let ex = audit_ledger::export(
        state.store.as_ref(),
        &caller.tenant,
        signer(&state)?,
        from,
        to,
        state.clock.now(),
    )
    .await?;
    let mut records = vec![Record::Checkpoint {
        checkpoint: ex.checkpoint,
    }];
    records.extend(ex.consistency.into_iter().map(|(from_checkpoint, proof)| {
        Record::Consistency {
            from_checkpoint,
            proof,
        }
    }));
    records.extend(
        ex.entries
            .into_iter()
            .map(|(entry, inclusion_proof)| Record::Entry {
                entry,
                inclusion_proof,
            }),
    );
    let (content_type, ext) = match format {
        Format::Ndjson => ("application/x-ndjson", "ndjson"),
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
    };
    let header_line = match format {
        Format::Csv => Some(export::csv_header()),
        Format::Ndjson => None,
    };
    let lines = header_line
        .into_iter()
        .chain(records.into_iter().map(move |r| match format {
            Format::Ndjson => export::ndjson_line(&r),
            Format::Csv => export::csv_line(&r),
        }))
        .map(|l| Ok::<_, Infallible>(Bytes::from(l)));
    let body = Body::from_stream(futures::stream::iter(lines));
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"audit-{}.{ext}\"",
                    caller.tenant.as_str()
                ),
            ),
        ],
        body,
    )
        .into_response())
}

/// `GET /audit/state?resource=TYPE/ID&at_seq=`: the resource as the log shows it then.
#[utoipa::path(
    get,
    path = "/audit/state",
    tag = "audit",
    operation_id = "audit_state_at",
    summary = "A resource as the log shows it at a sequence number",
    description = "Role: analyst.",
    params(("resource" = String, Query, description = "TYPE/ID, e.g. finding/fd_..."), ("at_seq" = Option<u64>, Query, description = "Sequence number; the head by default")),
    responses((status = 200, description = "The state", body = crate::openapi::Object), crate::openapi::ReadErrors),
)]
pub async fn state_at(
    State(state): State<AppState>,
    caller: Caller,
    mut p: Params,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Analyst)?;
    let resource = p.string("resource");
    let at_seq = seq_param(&mut p, "at_seq");
    let parts = resource.as_deref().and_then(|r| r.split_once('/'));
    if !matches!(parts, Some((t, i)) if !t.is_empty() && !i.is_empty()) {
        p.fail("resource", "is required as TYPE/ID, e.g. finding/abc");
    }
    p.finish()?;
    let (kind, id) = parts.ok_or_else(|| ApiError::field("resource", "is required"))?;
    let s = audit_ledger::state_at(state.store.as_ref(), &caller.tenant, kind, id, at_seq).await?;
    Ok(Json(json!(s)))
}

/// This module's routes, each with its OpenAPI operation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(entries))
        .routes(routes!(stats))
        .routes(routes!(latest_checkpoint))
        .routes(routes!(create_checkpoint))
        .routes(routes!(inclusion))
        .routes(routes!(consistency))
        .routes(routes!(verify))
        .routes(routes!(export))
        .routes(routes!(state_at))
}
