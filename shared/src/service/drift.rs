//! Model drift monitoring: registering models, freezing baselines, folding observations
//! into windows, running checks (now, or for a schedule slot) and raising their alerts
//! as `model_drift` findings, `model.drift_detected` events and audit entries.
use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Origin, ServiceError, commit};
use crate::audit::{Actor, AuditDraft};
use crate::domain::{Evidence, FieldError, Match, MergeOutcome, Severity, TenantId};
use crate::drift::baseline::{self, Baseline};
use crate::drift::check::{
    self, AlertState, Current, DriftCheckResult, ExecutionStatus, Source, Span, Trigger, level_str,
};
use crate::drift::model::{ModelSpec, MonitoredModel};
use crate::drift::stats::AlertLevel;
use crate::drift::window::{self, Folded, Slot, SlotAggregate};
use crate::messages::{DriftMessage, EnrichMessage, EnrichReason};
use crate::ports::{
    Condition, DomainEvent, EventBus, ItemStore, OutMessage, Queue, QueueName, StoreError, WriteOp,
};
use crate::repo::drift::{self as repo, ScheduleState, VersionedModel};
use crate::repo::storage_keys::drift as keys;
use crate::retry::on_conflict;

/// The actor of scheduled checks and of every alert.
pub const SCHEDULER: &str = "drift_scheduler";
pub const RULE_ID: &str = "model_drift";
pub const RULE_NAME: &str = "Model drift";
pub const DRIFT_DETECTED: &str = "model.drift_detected";
/// Window folds of one request run at once.
const FOLD_CONCURRENCY: usize = 8;

fn schedule_state(m: &MonitoredModel, now: DateTime<Utc>) -> ScheduleState {
    ScheduleState {
        tenant: m.tenant.clone(),
        model_id: m.id().to_string(),
        model_uid: m.uid.clone(),
        next_run: m.schedule().next_after(now),
        enabled: m.spec.enabled,
        last_run: None,
    }
}

async fn check_ai_system(
    store: &dyn ItemStore,
    tenant: &TenantId,
    spec: &ModelSpec,
) -> Result<(), ServiceError> {
    let Some(id) = &spec.ai_system_id else {
        return Ok(());
    };
    match crate::repo::ai_systems::get(store, tenant, id).await? {
        Some(v) if !v.system.archived => Ok(()),
        _ => Err(ServiceError::field(
            "ai_system_id",
            format!("no AI system '{id}' is registered"),
        )),
    }
}

/// Registers a model. Audited as `model.create`.
pub async fn create_model(
    store: &dyn ItemStore,
    origin: &Origin,
    spec: ModelSpec,
    now: DateTime<Utc>,
) -> Result<VersionedModel, ServiceError> {
    check_ai_system(store, &origin.tenant, &spec).await?;
    let model = MonitoredModel::create(&origin.tenant, spec, now);
    let (model, origin) = (&model, origin);
    on_conflict(move || async move {
        let draft = origin
            .draft("model.create", "model", model.id())
            .after(&repo::model_view(model, 1));
        let ops = vec![
            WriteOp::put(repo::model_item(model, 1)?, Condition::NotExists),
            WriteOp::put(
                repo::schedule_item(&schedule_state(model, now), 1)?,
                Condition::None,
            ),
        ];
        match commit(store, &origin.tenant, &draft, ops, now).await {
            Err(StoreError::ConditionFailed { op: 0 }) => {
                Err(ServiceError::Taken(FieldError::new(
                    "model_id",
                    format!("a model '{}' is already registered", model.id()),
                )))
            }
            other => other.map(|_| ()).map_err(ServiceError::from),
        }
    })
    .await?;
    Ok(VersionedModel {
        model: model.clone(),
        version: 1,
    })
}

async fn load(
    store: &dyn ItemStore,
    tenant: &TenantId,
    id: &str,
) -> Result<VersionedModel, ServiceError> {
    repo::get_model(store, tenant, id)
        .await?
        .ok_or(ServiceError::NotFound("model"))
}

fn pinned(wanted: Option<&[u64]>, current: u64) -> Result<(), ServiceError> {
    match wanted {
        Some(v) if !v.contains(&current) => Err(ServiceError::PreconditionFailed { current }),
        _ => Ok(()),
    }
}

/// Applies an RFC 7396 merge patch. Audited as `model.update`; a changed schedule or
/// enablement moves the next run.
pub async fn update_model(
    store: &dyn ItemStore,
    origin: &Origin,
    id: &str,
    wanted: Option<&[u64]>,
    patch: &Value,
    now: DateTime<Utc>,
) -> Result<VersionedModel, ServiceError> {
    on_conflict(move || async move {
        let current = load(store, &origin.tenant, id).await?;
        pinned(wanted, current.version)?;
        let spec = current
            .model
            .spec
            .patched(patch)
            .map_err(ServiceError::Invalid)?;
        if spec == current.model.spec {
            return Ok(current);
        }
        check_ai_system(store, &origin.tenant, &spec).await?;
        let mut next = current.model.clone();
        next.spec = spec;
        next.updated_at = now;
        let version = current.version + 1;
        let draft = origin
            .draft("model.update", "model", id)
            .before(&repo::model_view(&current.model, current.version))
            .after(&repo::model_view(&next, version));
        let mut ops = vec![WriteOp::put(
            repo::model_item(&next, version)?,
            Condition::Version(current.version),
        )];
        let sched = repo::get_schedule(store, &origin.tenant, id).await?;
        let timing_changed = next.spec.schedule_interval != current.model.spec.schedule_interval
            || next.spec.schedule_cron != current.model.spec.schedule_cron
            || next.spec.enabled != current.model.spec.enabled;
        if timing_changed || sched.is_none() {
            let mut state = schedule_state(&next, now);
            let (v, cond) = match &sched {
                Some(s) => {
                    state.last_run = s.state.last_run;
                    (s.version + 1, Condition::Version(s.version))
                }
                None => (1, Condition::NotExists),
            };
            ops.push(WriteOp::put(repo::schedule_item(&state, v)?, cond));
        }
        commit(store, &origin.tenant, &draft, ops, now).await?;
        Ok(VersionedModel {
            model: next,
            version,
        })
    })
    .await
}

/// Removes a model and its schedule. Its baselines, windows and checks stay stored
/// under its uid but no API reaches them. Audited as `model.delete`.
pub async fn delete_model(
    store: &dyn ItemStore,
    origin: &Origin,
    id: &str,
    wanted: Option<&[u64]>,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    on_conflict(move || async move {
        let current = load(store, &origin.tenant, id).await?;
        pinned(wanted, current.version)?;
        let draft = origin
            .draft("model.delete", "model", id)
            .before(&repo::model_view(&current.model, current.version));
        let ops = vec![
            WriteOp::Delete {
                pk: keys::model_pk(&origin.tenant, id),
                sk: keys::MODEL_SK.into(),
                condition: Condition::Version(current.version),
            },
            WriteOp::Delete {
                pk: keys::model_pk(&origin.tenant, id),
                sk: keys::SCHEDULE_SK.into(),
                condition: Condition::None,
            },
        ];
        commit(store, &origin.tenant, &draft, ops, now).await?;
        Ok(())
    })
    .await
}

/// The baseline as the API and the audit log show it (edges and counts; no samples).
pub fn baseline_view(model_id: &str, b: &Baseline) -> Value {
    json!({
        "model_id": model_id,
        "baseline_version": b.version,
        "model_version": b.model_version,
        "created_at": b.created_at,
        "features": b.features,
        "output": b.output,
    })
}

/// Freezes a new baseline version from reference data. The samples are written first
/// under the new baseline's own uid (invisible until its header exists), then the header
/// and the model's new version with the `model.baseline` audit entry in one write.
pub async fn put_baseline(
    store: &dyn ItemStore,
    origin: &Origin,
    id: &str,
    body: &Value,
    now: DateTime<Utc>,
) -> Result<(VersionedModel, Baseline), ServiceError> {
    on_conflict(move || async move {
        let current = load(store, &origin.tenant, id).await?;
        let m = &current.model;
        let version = m.baseline_version + 1;
        let built = baseline::build(m, body, version, now).map_err(ServiceError::Invalid)?;
        let samples = built
            .samples
            .iter()
            .map(|s| repo::sample_item(&origin.tenant, &m.uid, &built.header.uid, s))
            .collect::<Result<Vec<_>, _>>()?;
        store.put_all(samples).await?;
        let mut next = m.clone();
        next.baseline_version = version;
        next.updated_at = now;
        let draft = origin
            .draft("model.baseline", "model", id)
            .after(&baseline_view(id, &built.header));
        let ops = vec![
            WriteOp::put(
                repo::model_item(&next, current.version + 1)?,
                Condition::Version(current.version),
            ),
            WriteOp::put(
                repo::baseline_item(&origin.tenant, &m.uid, &built.header)?,
                Condition::NotExists,
            ),
        ];
        commit(store, &origin.tenant, &draft, ops, now).await?;
        Ok((
            VersionedModel {
                model: next,
                version: current.version + 1,
            },
            built.header,
        ))
    })
    .await
}

/// The current baseline of a model, if it has one.
pub async fn current_baseline(
    store: &dyn ItemStore,
    m: &MonitoredModel,
) -> Result<Option<Baseline>, StoreError> {
    if m.baseline_version == 0 {
        return Ok(None);
    }
    repo::get_baseline(store, &m.tenant, &m.uid, m.baseline_version).await
}

/// The batch name of a request: from its Idempotency-Key (so a retry folds into the
/// same markers and samples the same rows), else fresh.
pub fn batch_name(tenant: &TenantId, idempotency_key: Option<&str>) -> String {
    match idempotency_key {
        Some(k) => {
            let d = Sha256::digest(format!("{tenant}\u{0}{k}").as_bytes());
            format!("k{}", &hex::encode(d)[..32])
        }
        None => format!("r{}", uuid::Uuid::now_v7().simple()),
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ObserveSummary {
    pub accepted: usize,
    pub baseline_version: u64,
    pub windows: Vec<DateTime<Utc>>,
    /// (window, slot) folds this request added; on a redelivery, 0.
    pub folded: usize,
}

/// Folds one request's observations into its windows. Each (window, slot) is one
/// conditional write with the request's marker, so a redelivered request adds nothing,
/// and a request that failed half-way completes on its retry.
pub async fn observe(
    store: &dyn ItemStore,
    tenant: &TenantId,
    id: &str,
    body: &Value,
    batch: &str,
    now: DateTime<Utc>,
    cap: usize,
) -> Result<ObserveSummary, ServiceError> {
    let current = load(store, tenant, id).await?;
    let m = &current.model;
    let baseline = current_baseline(store, m).await?.ok_or_else(|| {
        ServiceError::Conflict(format!(
            "model '{id}' has no baseline yet: PUT /models/{id}/baseline first"
        ))
    })?;
    let folded: Folded =
        window::fold(&baseline, body, batch, now, cap).map_err(ServiceError::Invalid)?;
    let windows: Vec<DateTime<Utc>> = {
        let mut w: Vec<_> = folded.slots.keys().map(|(w, _)| *w).collect();
        w.dedup();
        w
    };
    let bv = baseline.version;
    let uid = m.uid.as_str();
    let folds: Vec<_> = folded
        .slots
        .iter()
        .map(|((win, slot), delta)| {
            let sk = keys::window_sk(&slot.key(), *win);
            async move { fold_one(store, tenant, uid, bv, &sk, batch, delta, now, cap).await }
        })
        .collect();
    let results: Vec<Result<bool, StoreError>> = futures::stream::iter(folds)
        .buffer_unordered(FOLD_CONCURRENCY)
        .collect()
        .await;
    let mut added = 0;
    for r in results {
        if r? {
            added += 1;
        }
    }
    Ok(ObserveSummary {
        accepted: folded.rows,
        baseline_version: bv,
        windows,
        folded: added,
    })
}

/// Folds `delta` into one stored window; false when this batch was folded there before.
#[allow(clippy::too_many_arguments)]
async fn fold_one(
    store: &dyn ItemStore,
    tenant: &TenantId,
    uid: &str,
    bv: u64,
    sk: &str,
    batch: &str,
    delta: &SlotAggregate,
    now: DateTime<Utc>,
    cap: usize,
) -> Result<bool, StoreError> {
    on_conflict(move || async move {
        let stored = repo::get_window(store, tenant, uid, bv, sk).await?;
        let (mut next, version) = match stored {
            Some(w) => (w.aggregate, w.version),
            None => (SlotAggregate::default(), 0),
        };
        next.merge(delta, cap);
        let ops = repo::fold_ops(tenant, uid, bv, sk, batch, &next, version, now)?;
        match store.write(ops).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed { op: 1 }) => Ok(false),
            Err(e) => Err(e),
        }
    })
    .await
}

/// What a check runs on.
#[derive(Debug, Clone)]
pub enum CheckInput {
    /// The seed's inline `input_data`, `output_data` and `bias_data`.
    Inline(Value),
    /// The observation windows in `[from, to)`; None: since the previous check, up to
    /// the end of the current window.
    Observations {
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    },
    /// The scheduled run of this slot: the windows since the schedule's previous slot.
    Slot(DateTime<Utc>),
}

/// Why a check could not compute: the check is recorded as FAILED with this message.
#[derive(Debug)]
enum Failure {
    Fatal(String),
    Store(StoreError),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

/// The end of the window holding `t`.
fn window_end(t: DateTime<Utc>) -> DateTime<Utc> {
    window::window_of(t) + window::WINDOW
}

async fn previous_window_end(
    store: &dyn ItemStore,
    m: &MonitoredModel,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let q = repo::checks_query(&m.tenant, &m.uid, None, None).limit(50);
    let page = store.query(&q).await?;
    for item in &page.items {
        let c = repo::check_from(item)?;
        if let Some(w) = c.window {
            return Ok(Some(w.to));
        }
    }
    Ok(None)
}

/// The merged current data of `baseline`'s slots over `span`.
async fn observed(
    store: &dyn ItemStore,
    m: &MonitoredModel,
    baseline: &Baseline,
    span: Span,
    cap: usize,
) -> Result<Current, StoreError> {
    let read = |slot: Slot| async move {
        let windows = repo::windows_in(
            store,
            &m.tenant,
            &m.uid,
            baseline.version,
            &slot.key(),
            span.from,
            span.to,
        )
        .await?;
        let mut agg = SlotAggregate::default();
        for w in &windows {
            agg.merge(w, cap);
        }
        Ok::<SlotAggregate, StoreError>(agg)
    };
    let mut slots: Vec<Slot> = (0..baseline.features.len()).map(Slot::Feature).collect();
    slots.push(Slot::Output);
    slots.push(Slot::Bias);
    let reads: Vec<_> = slots
        .into_iter()
        .map(|s| async move { (s, read(s).await) })
        .collect();
    let got: Vec<(Slot, Result<SlotAggregate, StoreError>)> = futures::stream::iter(reads)
        .buffered(FOLD_CONCURRENCY)
        .collect()
        .await;
    let mut cur = Current {
        features: vec![SlotAggregate::default(); baseline.features.len()],
        ..Current::default()
    };
    for (slot, agg) in got {
        let agg = agg?;
        match slot {
            Slot::Feature(i) => cur.features[i] = agg,
            Slot::Output => cur.output = agg,
            Slot::Bias => cur.groups = agg.groups,
        }
    }
    Ok(cur)
}

async fn compute(
    store: &dyn ItemStore,
    m: &MonitoredModel,
    input: &CheckInput,
    now: DateTime<Utc>,
    cap: usize,
) -> Result<(Value, AlertLevel, u64, Source, Option<Span>), Failure> {
    let baseline = current_baseline(store, m).await?.ok_or_else(|| {
        Failure::Fatal("the model has no baseline: PUT /models/{id}/baseline first".into())
    })?;
    let samples = repo::get_samples(store, &m.tenant, &m.uid, &baseline).await?;
    let (current, source, span) = match input {
        CheckInput::Inline(body) => {
            let cur = check::inline_current(&baseline, body).map_err(|errs| {
                Failure::Fatal(
                    errs.iter()
                        .map(|e| format!("{}: {}", e.field, e.message))
                        .collect::<Vec<_>>()
                        .join("; "),
                )
            })?;
            (cur, Source::Inline, None)
        }
        CheckInput::Observations { from, to } => {
            let to = to.unwrap_or_else(|| window_end(now));
            let from = match from {
                Some(f) => *f,
                None => previous_window_end(store, m)
                    .await?
                    .map(|f| f.min(to))
                    .unwrap_or(DateTime::UNIX_EPOCH),
            };
            let span = Span { from, to };
            (
                observed(store, m, &baseline, span, cap).await?,
                Source::Observations,
                Some(span),
            )
        }
        CheckInput::Slot(slot) => {
            let to = window::window_of(*slot);
            let from = m
                .schedule()
                .prev_before(*slot)
                .map(window::window_of)
                .unwrap_or(to - Duration::days(1));
            let span = Span { from, to };
            (
                observed(store, m, &baseline, span, cap).await?,
                Source::Observations,
                Some(span),
            )
        }
    };
    let (metrics, level) = check::evaluate(m, &baseline, &samples, &current);
    Ok((metrics, level, baseline.version, source, span))
}

/// How a check is run: by whom, under which id.
pub struct CheckRun<'a> {
    pub origin: &'a Origin,
    pub check_id: String,
    pub trigger: Trigger,
    pub input: CheckInput,
    /// A transient failure is recorded as FAILED (the last delivery) instead of retried.
    pub final_attempt: bool,
    pub reservoir_cap: usize,
}

/// Runs (or, for a check id already recorded, returns) a check and records it with its
/// audit entry (`model.check`) and the tenant's execution counters in one write. A
/// disabled model is SKIPPED; a check that cannot compute is FAILED with the reason.
pub async fn run_check(
    store: &dyn ItemStore,
    model: &VersionedModel,
    run: &CheckRun<'_>,
    now: DateTime<Utc>,
) -> Result<DriftCheckResult, ServiceError> {
    let tenant = &run.origin.tenant;
    let existing = repo::get_check(store, tenant, &run.check_id).await?;
    if let Some(e) = &existing {
        if e.check.status.is_final() {
            return Ok(e.check.clone());
        }
    }
    let m = &model.model;
    let started = Instant::now();
    let mut result = DriftCheckResult {
        check_id: run.check_id.clone(),
        model_id: m.id().to_string(),
        model_version: m.spec.model_version.clone(),
        baseline_version: None,
        timestamp: now,
        status: ExecutionStatus::Completed,
        duration_ms: 0.0,
        alert_generated: false,
        alert_level: None,
        metrics: json!({}),
        error_message: None,
        trigger: run.trigger,
        source: match run.input {
            CheckInput::Inline(_) => Source::Inline,
            _ => Source::Observations,
        },
        scheduled_for: match run.input {
            CheckInput::Slot(s) => Some(s),
            _ => None,
        },
        window: None,
        tenant: None,
        alert_state: AlertState::None,
        model_uid: m.uid.clone(),
    };
    if !m.spec.enabled {
        result.status = ExecutionStatus::Skipped;
        result.error_message = Some("the model is disabled".into());
    } else {
        match compute(store, m, &run.input, now, run.reservoir_cap).await {
            Ok((metrics, level, bv, source, span)) => {
                result.metrics = metrics;
                result.alert_level = Some(level);
                result.baseline_version = Some(bv);
                result.source = source;
                result.window = span;
                result.alert_generated = level > AlertLevel::Normal && m.notifies(level);
                if result.alert_generated {
                    result.alert_state = AlertState::Pending;
                }
            }
            Err(Failure::Fatal(msg)) => {
                result.status = ExecutionStatus::Failed;
                result.error_message = Some(msg);
            }
            Err(Failure::Store(e)) if run.final_attempt => {
                result.status = ExecutionStatus::Failed;
                result.error_message = Some(format!("the check could not read its data: {e}"));
            }
            Err(Failure::Store(e)) => return Err(e.into()),
        }
    }
    result.duration_ms = started.elapsed().as_secs_f64() * 1_000.0;
    let condition = match &existing {
        Some(e) => Condition::Version(e.version),
        None => Condition::NotExists,
    };
    let version = existing.as_ref().map_or(1, |e| e.version + 1);
    let mut ops = vec![
        WriteOp::put(repo::check_item(tenant, &result, version)?, condition),
        repo::counter_op(tenant, keys::counter::EXECUTIONS),
        repo::counter_op(
            tenant,
            match result.status {
                ExecutionStatus::Failed => keys::counter::FAILED,
                ExecutionStatus::Skipped => keys::counter::SKIPPED,
                _ => keys::counter::COMPLETED,
            },
        ),
    ];
    if result.alert_generated {
        ops.push(repo::counter_op(tenant, keys::counter::ALERTS));
    }
    let draft = run
        .origin
        .draft("model.check", "model", m.id())
        .after(&json!({
            "check_id": result.check_id,
            "status": result.status,
            "alert_level": result.alert_level,
            "alert_generated": result.alert_generated,
            "baseline_version": result.baseline_version,
            "trigger": result.trigger,
            "error_message": result.error_message,
        }));
    let (ops, draft, result_ref) = (&ops, &draft, &result);
    let written = on_conflict(move || async move {
        match commit(store, tenant, draft, ops.clone(), now).await {
            Ok(_) => Ok(None),
            // Another delivery recorded this check first: its record stands.
            Err(StoreError::ConditionFailed { op: 0 }) => {
                Ok(repo::get_check(store, tenant, &result_ref.check_id)
                    .await?
                    .map(|c| c.check))
            }
            Err(e) => Err(ServiceError::from(e)),
        }
    })
    .await?;
    Ok(written.unwrap_or(result))
}

/// The scheduled check of `slot`: runs once whatever the deliveries, then moves the
/// model's last run. None when the model is gone (or was registered again since).
#[allow(clippy::too_many_arguments)]
pub async fn run_scheduled(
    store: &dyn ItemStore,
    tenant: &TenantId,
    model_id: &str,
    model_uid: &str,
    slot: DateTime<Utc>,
    final_attempt: bool,
    reservoir_cap: usize,
    now: DateTime<Utc>,
) -> Result<Option<DriftCheckResult>, ServiceError> {
    let Some(model) = repo::get_model(store, tenant, model_id).await? else {
        return Ok(None);
    };
    if model.model.uid != model_uid {
        return Ok(None);
    }
    let origin = Origin::system(tenant.clone(), SCHEDULER);
    let run = CheckRun {
        origin: &origin,
        check_id: check::scheduled_check_id(tenant, model_uid, slot),
        trigger: Trigger::Schedule,
        input: CheckInput::Slot(slot),
        final_attempt,
        reservoir_cap,
    };
    let result = run_check(store, &model, &run, now).await?;
    // The last run is informational (the due index moved when the slot was sent).
    on_conflict(move || async move {
        let Some(s) = repo::get_schedule(store, tenant, model_id).await? else {
            return Ok(());
        };
        if s.state.model_uid != model_uid || s.state.last_run.is_some_and(|l| l >= slot) {
            return Ok(());
        }
        let mut next = s.state.clone();
        next.last_run = Some(slot);
        store
            .write(vec![WriteOp::put(
                repo::schedule_item(&next, s.version + 1)?,
                Condition::Version(s.version),
            )])
            .await
    })
    .await?;
    Ok(Some(result))
}

/// The finding a drifting check raises: one session per model, so checks within the
/// dedup gap of each other share a finding, and a CRITICAL after a WARNING escalates it.
pub fn drift_match(c: &DriftCheckResult) -> Match {
    let level = c.alert_level.unwrap_or(AlertLevel::Warning);
    let severity = match level {
        AlertLevel::Critical => Severity::Critical,
        _ => Severity::Medium,
    };
    let drifted: Vec<String> = c
        .metrics
        .get("features")
        .and_then(Value::as_object)
        .map(|fs| {
            fs.iter()
                .filter(|(_, m)| {
                    matches!(
                        m.get("status").and_then(Value::as_str),
                        Some("warning" | "critical")
                    )
                })
                .map(|(k, m)| {
                    format!(
                        "{k} (PSI {:.3})",
                        m.get("psi").and_then(Value::as_f64).unwrap_or(0.0)
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let worst = c
        .metrics
        .get("features")
        .and_then(Value::as_object)
        .map(|fs| {
            fs.values()
                .filter_map(|m| m.get("psi").and_then(Value::as_f64))
                .fold(0.0, f64::max)
        })
        .unwrap_or(0.0);
    let bias = c
        .metrics
        .get("bias_alert_count")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    Match {
        rule_id: RULE_ID,
        rule_name: RULE_NAME,
        severity,
        magnitude: (worst * 1_000.0).round().max(0.0) as u64,
        subject: format!("model:{}", c.model_id),
        user: None,
        title: format!("{} drift on model {}", level_str(level), c.model_id),
        description: format!(
            "Check {} of model {} (version {}, baseline {}): drifted features: {}; output drift: {}; bias alerts: {bias}.",
            c.check_id,
            c.model_id,
            c.model_version,
            c.baseline_version.map_or("-".into(), |v| v.to_string()),
            if drifted.is_empty() {
                "none".into()
            } else {
                drifted.join(", ")
            },
            c.metrics
                .get("output_drift")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        ),
        evidence: vec![Evidence {
            at: c.timestamp,
            id: c.check_id.clone(),
        }],
    }
}

pub fn drift_event(
    tenant: &TenantId,
    c: &DriftCheckResult,
    finding_id: Option<&str>,
) -> DomainEvent {
    DomainEvent {
        id: format!("{}:drift", c.check_id),
        tenant: tenant.to_string(),
        detail_type: DRIFT_DETECTED.into(),
        time: c.timestamp,
        detail: json!({
            "check_id": c.check_id,
            "model_id": c.model_id,
            "model_version": c.model_version,
            "baseline_version": c.baseline_version,
            "alert_level": c.alert_level,
            // The severity its finding has, so webhook severity filters apply.
            "severity": match c.alert_level {
                Some(AlertLevel::Critical) => "critical",
                _ => "medium",
            },
            "finding_id": finding_id,
            "input_drift_count": c.metrics.get("input_drift_count"),
            "output_drift": c.metrics.get("output_drift"),
            "bias_alert_count": c.metrics.get("bias_alert_count"),
            "timestamp": c.timestamp,
        }),
        request_id: None,
    }
}

/// Raises a check's alert once: folds it into the model's `model_drift` finding, queues
/// the finding's enrichment (which announces `finding.*`), records `model.drift_alert`
/// (actor the scheduler) with the check marked raised, then publishes
/// `model.drift_detected`. A redelivery after the record re-publishes (stable event id).
#[allow(clippy::too_many_arguments)]
pub async fn raise_alert(
    store: &dyn ItemStore,
    queue: &dyn Queue,
    bus: &dyn EventBus,
    tenant: &TenantId,
    check_id: &str,
    gap: Duration,
    redelivered: bool,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    let Some(first) = repo::get_check(store, tenant, check_id).await? else {
        return Ok(());
    };
    match first.check.alert_state {
        AlertState::None => return Ok(()),
        AlertState::Raised => {
            if redelivered {
                bus.publish(&[drift_event(tenant, &first.check, None)])
                    .await?;
            }
            return Ok(());
        }
        AlertState::Pending => {}
    }
    let m = drift_match(&first.check);
    let recorded = crate::service::findings::record_matches(store, tenant, &[m], gap, now).await?;
    let mut enrich = Vec::new();
    let mut finding_id = None;
    for r in &recorded {
        finding_id = Some(r.finding.id.clone());
        let reason = match r.outcome {
            MergeOutcome::Created => Some(EnrichReason::Created),
            MergeOutcome::Escalated => Some(EnrichReason::Escalated),
            _ if redelivered && r.finding.needs_enrichment() => Some(EnrichReason::Retry),
            _ => None,
        };
        if let Some(reason) = reason {
            enrich.push(EnrichMessage {
                tenant: tenant.clone(),
                finding_id: r.finding.id.clone(),
                reason,
                request_id: None,
            });
        }
    }
    if !enrich.is_empty() {
        let bodies = enrich
            .iter()
            .map(|m| serde_json::to_string(m).map(OutMessage::new))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ServiceError::Store(StoreError::Malformed(e.to_string())))?;
        queue.send(QueueName::Enrich, bodies).await?;
    }
    let finding_id = &finding_id;
    let raised = on_conflict(move || async move {
        let Some(current) = repo::get_check(store, tenant, check_id).await? else {
            return Ok(None);
        };
        if current.check.alert_state != AlertState::Pending {
            return Ok(None);
        }
        let mut next = current.check.clone();
        next.alert_state = AlertState::Raised;
        let draft = AuditDraft::new(
            Actor::system(SCHEDULER),
            "model.drift_alert",
            "model",
            &next.model_id,
        )
        .after(&json!({
            "check_id": next.check_id,
            "alert_level": next.alert_level,
            "finding_id": finding_id,
            "severity": next.alert_level.map(level_str),
        }));
        let ops = vec![WriteOp::put(
            repo::check_item(tenant, &next, current.version + 1)?,
            Condition::Version(current.version),
        )];
        commit(store, tenant, &draft, ops, now).await?;
        Ok::<_, ServiceError>(Some(next))
    })
    .await?;
    if let Some(c) = raised {
        bus.publish(&[drift_event(tenant, &c, finding_id.as_deref())])
            .await?;
    }
    Ok(())
}

/// The message that raises a check's alert on the drift queue.
pub fn alert_message(
    tenant: &TenantId,
    check_id: &str,
    request_id: Option<String>,
) -> Result<OutMessage, ServiceError> {
    let m = DriftMessage::Alert {
        tenant: tenant.clone(),
        check_id: check_id.to_string(),
        request_id,
    };
    serde_json::to_string(&m)
        .map(OutMessage::new)
        .map_err(|e| ServiceError::Store(StoreError::Malformed(e.to_string())))
}

/// One model's schedule as `GET /drift/schedule` shows it.
pub fn schedule_view(m: &MonitoredModel, s: Option<&ScheduleState>) -> Value {
    json!({
        "model_id": m.id(),
        "schedule_interval": m.spec.schedule_interval,
        "schedule_cron": m.spec.schedule_cron,
        "enabled": m.spec.enabled,
        "next_run_time": s.and_then(|s| s.next_run).filter(|_| m.spec.enabled),
        "last_run_time": s.and_then(|s| s.last_run),
    })
}

/// The seed's `get_statistics`.
pub async fn statistics(store: &dyn ItemStore, tenant: &TenantId) -> Result<Value, StoreError> {
    let configured = store.count(&repo::list_query(tenant)).await?;
    let enabled = store.count(&repo::enabled_query(tenant)).await?;
    let c: BTreeMap<String, i64> = repo::counters(store, tenant).await?;
    let get = |k: &str| c.get(k).copied().unwrap_or(0);
    let completed = get(keys::counter::COMPLETED);
    let failed = get(keys::counter::FAILED);
    let rate = if completed + failed > 0 {
        Some((completed as f64 * 1_000.0 / (completed + failed) as f64).round() / 10.0)
    } else {
        None
    };
    Ok(json!({
        "total_models_configured": configured,
        "total_models_enabled": enabled,
        "total_executions": get(keys::counter::EXECUTIONS),
        "successful_executions": completed,
        "failed_executions": failed,
        "skipped_executions": get(keys::counter::SKIPPED),
        "alerts_generated": get(keys::counter::ALERTS),
        "success_rate": rate,
    }))
}

/// What one schedule sweep did.
#[derive(Debug, Default, serde::Serialize)]
pub struct Sweep {
    /// Checks sent to the drift queue: (tenant, model, slot).
    pub sent: Vec<(String, String, DateTime<Utc>)>,
}

/// Sends a check for every enabled model whose next run is due, then moves each one's
/// next run past `now`. Sending first: a sweep that dies before moving a model sends
/// the same slot again next time, and the slot's check id makes that harmless.
pub async fn sweep(
    store: &dyn ItemStore,
    queue: &dyn Queue,
    now: DateTime<Utc>,
) -> Result<Sweep, ServiceError> {
    let mut out = Sweep::default();
    loop {
        // Moved models leave the due range, so each round reads it from the start.
        let page = store.query(&repo::due_query(now).limit(100)).await?;
        if page.items.is_empty() {
            return Ok(out);
        }
        let mut msgs = Vec::new();
        let mut states = Vec::new();
        for item in &page.items {
            let s = repo::schedule_from(item)?;
            let Some(slot) = s.next_run else { continue };
            let m = DriftMessage::Run {
                tenant: s.tenant.clone(),
                model_id: s.model_id.clone(),
                model_uid: s.model_uid.clone(),
                slot,
            };
            msgs.push(
                serde_json::to_string(&m)
                    .map(OutMessage::new)
                    .map_err(|e| ServiceError::Store(StoreError::Malformed(e.to_string())))?,
            );
            states.push((s, item.version, slot));
        }
        for chunk in msgs.chunks(10) {
            queue.send(QueueName::Drift, chunk.to_vec()).await?;
        }
        for (s, version, slot) in states {
            let model = repo::get_model(store, &s.tenant, &s.model_id).await?;
            let mut next = s.clone();
            next.next_run = model
                .as_ref()
                .and_then(|m| m.model.schedule().next_after(now.max(slot)));
            if next.next_run.is_none() {
                next.enabled = false;
            }
            out.sent
                .push((s.tenant.to_string(), s.model_id.clone(), slot));
            match store
                .write(vec![WriteOp::put(
                    repo::schedule_item(&next, version + 1)?,
                    Condition::Version(version),
                )])
                .await
            {
                // The model changed meanwhile and its new schedule stands.
                Ok(()) | Err(StoreError::ConditionFailed { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}
