//! The AI-system registry: create, list, read, replace (PUT), merge-patch (PATCH,
//! RFC 7396), archive (DELETE), monitoring settings, drift events and `POST /classify`.
//! Reads carry an `ETag` (the item version); writes honour `If-Match` (412 on mismatch).
use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde_json::{Map, Value, json};
use vigil_shared::audit::{self, Actor, AuditDraft};
use vigil_shared::classifier::{Answers, RiskLevel, classify};
use vigil_shared::domain::ai_system::{AiSystem, DriftType, MAX_NAME, MAX_TEXT, Monitoring};
use vigil_shared::domain::merge_patch::merge_patch;
use vigil_shared::domain::{FieldError, Role};
use vigil_shared::repo::ai_systems::{self, RegistryError, SystemFilter, Versioned};
use vigil_shared::repo::drift_events;
use vigil_shared::repo::page::{cursor_in_partition, encode_cursor};

use super::audit::RequestId;
use super::parse_json;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::params::Params;
use crate::state::AppState;

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::NameTaken(n) => {
                ApiError::field("name", format!("an AI system named '{n}' already exists"))
            }
            RegistryError::VersionMismatch => {
                ApiError::Conflict("the AI system changed concurrently; retry".into())
            }
            RegistryError::Store(s) => s.into(),
        }
    }
}

fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// The version `If-Match` asks for: None without the header or with `*`.
fn if_match(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let s = v.to_str().unwrap_or_default().trim();
    if s == "*" {
        return Ok(None);
    }
    s.trim_start_matches("W/")
        .trim_matches('"')
        .parse::<u64>()
        .map(Some)
        .map_err(|_| ApiError::field("If-Match", "must be an ETag this API issued, or *"))
}

fn check_match(wanted: Option<u64>, current: &Versioned) -> Result<(), ApiError> {
    match wanted {
        Some(v) if v != current.version => Err(ApiError::PreconditionFailed {
            current: format!("\"{}\"", current.version),
        }),
        _ => Ok(()),
    }
}

fn with_etag(status: StatusCode, v: &Versioned) -> Response {
    let mut resp = (status, Json(view(v))).into_response();
    resp.headers_mut().insert(header::ETAG, etag(v.version));
    resp
}

fn view(v: &Versioned) -> Value {
    ai_systems::snapshot(&v.system, v.version)
}

/// The client-editable representation, the document PATCH merges into.
fn editable(s: &AiSystem) -> Value {
    json!({
        "name": s.name,
        "description": s.description,
        "purpose": s.purpose,
        "owner": s.owner,
        "answers": s.answers.as_ref().map(Answers::to_json),
    })
}

/// What a create or full replace may set.
struct Fields {
    name: String,
    description: String,
    purpose: String,
    owner: String,
    answers: Option<Answers>,
    monitoring: Option<Monitoring>,
}

fn text(
    obj: &Map<String, Value>,
    key: &str,
    max: usize,
    required: bool,
    errors: &mut Vec<FieldError>,
) -> String {
    match obj.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= max => {
            s.trim().to_string()
        }
        Some(Value::String(s)) if s.trim().is_empty() && !required => String::new(),
        None | Some(Value::Null) if !required => String::new(),
        None | Some(Value::Null) => {
            errors.push(FieldError::new(key, "is required"));
            String::new()
        }
        _ => {
            errors.push(FieldError::new(
                key,
                format!("must be a non-empty string of at most {max} characters"),
            ));
            String::new()
        }
    }
}

fn parse_monitoring(
    v: &Value,
    base: Monitoring,
    errors: &mut Vec<FieldError>,
) -> Option<Monitoring> {
    let Some(obj) = v.as_object() else {
        errors.push(FieldError::new("monitoring", "must be an object"));
        return None;
    };
    let mut m = base;
    for (k, v) in obj {
        match (k.as_str(), v) {
            ("monitoring_enabled", Value::Bool(b)) => m.monitoring_enabled = *b,
            ("monitoring_enabled", _) => errors.push(FieldError::new(
                "monitoring_enabled",
                "must be a JSON boolean",
            )),
            ("notify_on", Value::Array(items)) => {
                let mut types = Vec::new();
                for (i, t) in items.iter().enumerate() {
                    match t.as_str().and_then(DriftType::parse) {
                        Some(d) if !types.contains(&d) => types.push(d),
                        Some(_) => {}
                        None => errors.push(
                            FieldError::new(
                                "notify_on",
                                "must list risk_change, status_change, classifier_version_change or mixed",
                            )
                            .at(i),
                        ),
                    }
                }
                m.notify_on = types;
            }
            ("notify_on", _) => errors.push(FieldError::new("notify_on", "must be an array")),
            (other, _) => errors.push(FieldError::new(other, "is not a monitoring setting")),
        }
    }
    Some(m)
}

/// Parses a full representation. `answers` absent or null: no questionnaire.
fn parse_fields(value: &Value) -> Result<Fields, ApiError> {
    let obj = value
        .as_object()
        .ok_or_else(|| ApiError::field("", "body must be a JSON object"))?;
    let mut errors = Vec::new();
    for k in obj.keys() {
        if ![
            "name",
            "description",
            "purpose",
            "owner",
            "answers",
            "monitoring",
        ]
        .contains(&k.as_str())
        {
            errors.push(FieldError::new(k, "is not a field of an AI system"));
        }
    }
    let name = text(obj, "name", MAX_NAME, true, &mut errors);
    let description = text(obj, "description", MAX_TEXT, false, &mut errors);
    let purpose = text(obj, "purpose", MAX_TEXT, false, &mut errors);
    let owner = text(obj, "owner", MAX_NAME, false, &mut errors);
    let answers = match obj.get("answers") {
        None | Some(Value::Null) => None,
        Some(v) => match Answers::parse(v, "answers", Answers::with_defaults()) {
            Ok(a) => Some(a),
            Err(e) => {
                errors.extend(e);
                None
            }
        },
    };
    let monitoring = obj
        .get("monitoring")
        .and_then(|v| parse_monitoring(v, Monitoring::default(), &mut errors));
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    Ok(Fields {
        name,
        description,
        purpose,
        owner,
        answers,
        monitoring,
    })
}

/// Applies `fields` to `s`, classifying at once when the answers changed.
fn apply(s: &mut AiSystem, f: Fields, state: &AppState) {
    let now = state.clock.now();
    let answers_changed = s.answers != f.answers;
    s.name = f.name;
    s.description = f.description;
    s.purpose = f.purpose;
    s.owner = f.owner;
    if let Some(m) = f.monitoring {
        s.monitoring = m;
    }
    if answers_changed || (s.answers.is_some() && s.classification.is_none()) {
        s.classification = f.answers.as_ref().map(|a| classify(a, now.date_naive()));
    }
    s.answers = f.answers;
    s.updated_at = now;
}

/// Audited as `ai_system.create`.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    RequestId(request_id): RequestId,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Role::Analyst)?;
    let fields = parse_fields(&parse_json(&body)?)?;
    let now = state.clock.now();
    let mut s = AiSystem {
        id: AiSystem::new_id(),
        tenant: caller.tenant.clone(),
        name: String::new(),
        description: String::new(),
        purpose: String::new(),
        owner: String::new(),
        answers: None,
        classification: None,
        monitoring: Monitoring::default(),
        archived: false,
        created_at: now,
        updated_at: now,
    };
    apply(&mut s, fields, &state);
    let v = Versioned {
        system: s,
        version: 1,
    };
    let store = state.store.as_ref();
    let draft = AuditDraft::new(
        Actor::key(&caller.key_id),
        "ai_system.create",
        "ai_system",
        &v.system.id,
    )
    .request_id(Some(request_id))
    .after(&view(&v));
    let mut created = false;
    for attempt in 0..audit::MAX_ATTEMPTS {
        let prepared = audit::prepare(store, &caller.tenant, &draft, now).await?;
        match ai_systems::create_with(store, &v.system, prepared.ops).await {
            Ok(()) => {
                created = true;
                break;
            }
            Err(RegistryError::Store(e)) if audit::retryable(&e) => audit::backoff(attempt).await,
            // The id is fresh, so a lost race can only be the ledger's (a transaction
            // conflict): go again.
            Err(RegistryError::VersionMismatch) => audit::backoff(attempt).await,
            Err(e) => return Err(e.into()),
        }
    }
    if !created {
        return Err(ApiError::Conflict(
            "the audit ledger kept changing; retry".into(),
        ));
    }
    let mut resp = with_etag(StatusCode::CREATED, &v);
    if let Ok(loc) = HeaderValue::from_str(&format!("/ai-systems/{}", v.system.id)) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let mut p = Params::new(q);
    let filter = SystemFilter {
        level: p.parsed(
            "risk_level",
            RiskLevel::parse,
            "unacceptable, high, limited, minimal",
        ),
        monitoring: p.parsed(
            "monitoring_enabled",
            |s| match s {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            "true, false",
        ),
    };
    let limit = p.number("limit", 1, 100, 20);
    let cursor = p.cursor("cursor");
    p.finish()?;
    if let Some(c) = &cursor {
        if !cursor_in_partition(c, &ai_systems::list_query(&caller.tenant, &filter)) {
            return Err(ApiError::field("cursor", "does not belong to this query"));
        }
    }
    let got =
        ai_systems::list(state.store.as_ref(), &caller.tenant, &filter, limit, cursor).await?;
    let items = got
        .items
        .iter()
        .map(|i| {
            ai_systems::from_item(i).map(|s| {
                view(&Versioned {
                    system: s,
                    version: i.version,
                })
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(json!({
        "items": items,
        "limit": limit,
        "next_cursor": got.next.as_ref().map(encode_cursor),
    })))
}

async fn load(state: &AppState, caller: &Caller, id: &str) -> Result<Versioned, ApiError> {
    ai_systems::get(state.store.as_ref(), &caller.tenant, id)
        .await?
        .ok_or(ApiError::NotFound("AI system"))
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(with_etag(
        StatusCode::OK,
        &load(&state, &caller, &id).await?,
    ))
}

/// What a change is audited as, and on whose request.
struct Audited<'a> {
    action: &'static str,
    caller: &'a Caller,
    request_id: &'a str,
}

/// Reads, changes and writes under the item version with its audit entry in the same
/// write, retrying lost races. A client that pinned a version with `If-Match` gets 412
/// on the next read if the system changed; a race on the ledger alone is retried.
async fn update(
    state: &AppState,
    audited: Audited<'_>,
    id: &str,
    wanted: Option<u64>,
    change: impl Fn(&Versioned) -> Result<AiSystem, ApiError>,
) -> Result<Versioned, ApiError> {
    let caller = audited.caller;
    let store = state.store.as_ref();
    for attempt in 0..audit::MAX_ATTEMPTS {
        let current = load(state, caller, id).await?;
        check_match(wanted, &current)?;
        let next = change(&current)?;
        if next == current.system {
            return Ok(current);
        }
        let after = Versioned {
            system: next,
            version: current.version + 1,
        };
        let draft = AuditDraft::new(Actor::key(&caller.key_id), audited.action, "ai_system", id)
            .request_id(Some(audited.request_id.to_string()))
            .before(&view(&current))
            .after(&view(&after));
        let prepared = audit::prepare(store, &caller.tenant, &draft, state.clock.now()).await?;
        match ai_systems::replace_with(store, &current, &after.system, prepared.ops).await {
            Ok(version) => {
                return Ok(Versioned {
                    system: after.system,
                    version,
                });
            }
            Err(RegistryError::VersionMismatch) => audit::backoff(attempt).await,
            Err(RegistryError::Store(e)) if audit::retryable(&e) => audit::backoff(attempt).await,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Conflict(
        "the AI system kept changing; retry".into(),
    ))
}

fn live(current: &Versioned) -> Result<AiSystem, ApiError> {
    if current.system.archived {
        return Err(ApiError::Conflict(
            "the AI system is archived and cannot be changed".into(),
        ));
    }
    Ok(current.system.clone())
}

/// Full replace: every editable field takes the body's value (absent: empty/none).
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Role::Analyst)?;
    let wanted = if_match(&headers)?;
    let value = parse_json(&body)?;
    parse_fields(&value)?;
    let v = update(
        &state,
        Audited {
            action: "ai_system.replace",
            caller: &caller,
            request_id: &request_id,
        },
        &id,
        wanted,
        |current| {
            let mut next = live(current)?;
            apply(&mut next, parse_fields(&value)?, &state);
            Ok(next)
        },
    )
    .await?;
    Ok(with_etag(StatusCode::OK, &v))
}

pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Role::Analyst)?;
    let wanted = if_match(&headers)?;
    let patch = parse_json(&body)?;
    if !patch.is_object() {
        return Err(ApiError::field("", "a merge patch must be a JSON object"));
    }
    let v = update(
        &state,
        Audited {
            action: "ai_system.update",
            caller: &caller,
            request_id: &request_id,
        },
        &id,
        wanted,
        |current| {
            let mut next = live(current)?;
            let mut doc = editable(&current.system);
            // Stored answers are explicit, so merging must not re-apply defaults.
            merge_patch(&mut doc, &patch);
            let mut fields = parse_fields(&doc)?;
            if let (Some(Value::Object(_)), Some(_), Some(_)) =
                (doc.get("answers"), &fields.answers, &current.system.answers)
            {
                fields.answers = doc
                    .get("answers")
                    .map(|a| Answers::parse(a, "answers", Answers::default()))
                    .transpose()
                    .map_err(ApiError::Invalid)?;
            }
            if let Some(m) = patch.get("monitoring") {
                let mut errors = Vec::new();
                fields.monitoring =
                    parse_monitoring(m, current.system.monitoring.clone(), &mut errors);
                if !errors.is_empty() {
                    return Err(ApiError::Invalid(errors));
                }
            }
            apply(&mut next, fields, &state);
            Ok(next)
        },
    )
    .await?;
    Ok(with_etag(StatusCode::OK, &v))
}

/// Archives: the system leaves listings and monitoring, and frees its name.
pub async fn archive(
    State(state): State<AppState>,
    caller: Caller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Analyst)?;
    let wanted = if_match(&headers)?;
    update(
        &state,
        Audited {
            action: "ai_system.archive",
            caller: &caller,
            request_id: &request_id,
        },
        &id,
        wanted,
        |current| {
            let mut next = current.system.clone();
            if !next.archived {
                next.archived = true;
                next.updated_at = state.clock.now();
            }
            Ok(next)
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn get_monitoring(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let v = load(&state, &caller, &id).await?;
    let mut resp = Json(&v.system.monitoring).into_response();
    resp.headers_mut().insert(header::ETAG, etag(v.version));
    Ok(resp)
}

pub async fn patch_monitoring(
    State(state): State<AppState>,
    caller: Caller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Role::Analyst)?;
    let wanted = if_match(&headers)?;
    let value = parse_json(&body)?;
    let v = update(
        &state,
        Audited {
            action: "ai_system.update_monitoring",
            caller: &caller,
            request_id: &request_id,
        },
        &id,
        wanted,
        |current| {
            let mut next = live(current)?;
            let mut errors = Vec::new();
            if let Some(m) = parse_monitoring(&value, next.monitoring.clone(), &mut errors) {
                next.monitoring = m;
            }
            if !errors.is_empty() {
                return Err(ApiError::Invalid(errors));
            }
            if next.monitoring != current.system.monitoring {
                next.updated_at = state.clock.now();
            }
            Ok(next)
        },
    )
    .await?;
    let mut resp = Json(&v.system.monitoring).into_response();
    resp.headers_mut().insert(header::ETAG, etag(v.version));
    Ok(resp)
}

pub async fn drift_events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let mut p = Params::new(q);
    let limit = p.number("limit", 1, 100, 20);
    let cursor = p.cursor("cursor");
    p.finish()?;
    // Another tenant's system is simply not found.
    load(&state, &caller, &id).await?;
    if let Some(c) = &cursor {
        if !cursor_in_partition(c, &drift_events::list_query(&caller.tenant, &id)) {
            return Err(ApiError::field("cursor", "does not belong to this query"));
        }
    }
    let (items, next) =
        drift_events::list(state.store.as_ref(), &caller.tenant, &id, limit, cursor).await?;
    Ok(Json(json!({
        "items": items,
        "limit": limit,
        "next_cursor": next.as_ref().map(encode_cursor),
    })))
}

/// Classifies answers without storing anything. `as_of` (YYYY-MM-DD) defaults to today.
pub async fn classify_answers(
    State(state): State<AppState>,
    _caller: Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let value = parse_json(&body)?;
    let obj = value
        .as_object()
        .ok_or_else(|| ApiError::field("", "body must be a JSON object"))?;
    let mut errors = Vec::new();
    for k in obj.keys() {
        if k != "answers" && k != "as_of" {
            errors.push(FieldError::new(
                k,
                "is not a field of a classification request",
            ));
        }
    }
    let answers = match obj.get("answers") {
        Some(v) => Answers::parse(v, "answers", Answers::with_defaults()).unwrap_or_else(|e| {
            errors.extend(e);
            Answers::default()
        }),
        None => {
            errors.push(FieldError::new("answers", "is required"));
            Answers::default()
        }
    };
    let as_of = match obj.get("as_of") {
        None | Some(Value::Null) => state.clock.now().date_naive(),
        Some(Value::String(s)) => NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|_| {
            errors.push(FieldError::new("as_of", "must be a YYYY-MM-DD date"));
            state.clock.now().date_naive()
        }),
        Some(_) => {
            errors.push(FieldError::new("as_of", "must be a YYYY-MM-DD date"));
            state.clock.now().date_naive()
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let c = classify(&answers, as_of);
    Ok(Json(json!({"answers": answers, "classification": c})))
}
