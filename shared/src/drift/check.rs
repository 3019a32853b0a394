//! A drift check (the seed's `DriftCheckResult`) and how its metrics are computed from a
//! frozen baseline and the current data: exact counts for PSI, KL, JS and χ², the
//! reservoir (or the raw values) for KS and Wasserstein, group counts for bias.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::baseline::{
    Baseline, Bins, FeatureBaseline, MAX_VALUES, OUTPUT, categorical_value, numeric_value,
};
use super::bias::{self, BiasStatus, PrecomputedBias};
use super::model::{FeatureKind, MonitoredModel, PsiBands};
use super::reservoir::{self, Reservoir};
use super::stats::{self, AlertLevel, FeatureStatus};
use super::window::{GroupTable, SlotAggregate};
use crate::domain::{FieldError, TenantId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    Pending,
    Running,
    Completed,
    Failed,
    Skipped,
}

impl ExecutionStatus {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "PENDING" => Some(Self::Pending),
            "RUNNING" => Some(Self::Running),
            "COMPLETED" => Some(Self::Completed),
            "FAILED" => Some(Self::Failed),
            "SKIPPED" => Some(Self::Skipped),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Running => "RUNNING",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Skipped => "SKIPPED",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Skipped)
    }
}

pub fn parse_level(s: &str) -> Option<AlertLevel> {
    match s {
        "NORMAL" => Some(AlertLevel::Normal),
        "WARNING" => Some(AlertLevel::Warning),
        "CRITICAL" => Some(AlertLevel::Critical),
        _ => None,
    }
}

pub fn level_str(l: AlertLevel) -> &'static str {
    match l {
        AlertLevel::Normal => "NORMAL",
        AlertLevel::Warning => "WARNING",
        AlertLevel::Critical => "CRITICAL",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Manual,
    Schedule,
}

/// Where a check's current data came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Inline,
    Observations,
}

/// The observation windows a check covered: `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// Whether a check's alert has been raised (finding, bus event, audit entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    None,
    Pending,
    Raised,
}

/// The seed's `DriftCheckResult`, plus where its data came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftCheckResult {
    pub check_id: String,
    pub model_id: String,
    pub model_version: String,
    pub baseline_version: Option<u64>,
    pub timestamp: DateTime<Utc>,
    pub status: ExecutionStatus,
    pub duration_ms: f64,
    pub alert_generated: bool,
    pub alert_level: Option<AlertLevel>,
    pub metrics: Value,
    pub error_message: Option<String>,
    pub trigger: Trigger,
    pub source: Source,
    /// The schedule slot a scheduled check ran for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_for: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Span>,
    #[serde(skip)]
    pub tenant: Option<TenantId>,
    #[serde(default = "no_alert")]
    pub alert_state: AlertState,
    /// The model incarnation (see `MonitoredModel::uid`).
    pub model_uid: String,
}

fn no_alert() -> AlertState {
    AlertState::None
}

/// The id of the check of `model` for schedule slot `slot`: every delivery of that slot
/// meets on one record, so a slot never runs twice.
pub fn scheduled_check_id(tenant: &TenantId, model_uid: &str, slot: DateTime<Utc>) -> String {
    let mut h = Sha256::new();
    for p in [tenant.as_str(), model_uid, &slot.timestamp().to_string()] {
        h.update(p.as_bytes());
        h.update([0]);
    }
    format!("dc_{}", &hex::encode(h.finalize())[..24])
}

pub fn manual_check_id() -> String {
    format!("dc_{}", uuid::Uuid::now_v7().simple())
}

/// One feature's (or the output's) numbers in a check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureMetrics {
    #[serde(rename = "type")]
    pub kind: FeatureKind,
    pub n_ref: u64,
    pub n_cur: u64,
    pub psi: f64,
    pub psi_critical_value: f64,
    pub kl: f64,
    pub js_distance: f64,
    pub bins_used: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ks_statistic: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ks_p_value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wasserstein: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chi2_p_value: Option<f64>,
    /// True when KS/Wasserstein ran on a reservoir sample rather than every value.
    pub sampled: bool,
    pub band: AlertLevel,
    pub significant: bool,
    pub status: FeatureStatus,
    pub reason: String,
    pub psi_warning: f64,
    pub psi_critical: f64,
}

/// The current data of a check, aligned with the baseline's features.
#[derive(Debug, Clone, Default)]
pub struct Current {
    pub features: Vec<SlotAggregate>,
    pub output: SlotAggregate,
    pub groups: GroupTable,
    pub precomputed: Vec<PrecomputedBias>,
}

fn level_of(status: FeatureStatus) -> AlertLevel {
    match status {
        FeatureStatus::Warning => AlertLevel::Warning,
        FeatureStatus::Critical => AlertLevel::Critical,
        FeatureStatus::Normal | FeatureStatus::InsufficientData => AlertLevel::Normal,
    }
}

/// The p-value as reported: below 1e-300 it may read 0.
fn p(v: f64) -> f64 {
    if v < 1e-300 { 0.0 } else { v }
}

fn feature_metrics(
    fb: &FeatureBaseline,
    kind: FeatureKind,
    cur: &SlotAggregate,
    reference: Option<&[f64]>,
    bands: PsiBands,
) -> FeatureMetrics {
    let mut counts = cur.counts.clone();
    counts.resize(fb.counts.len(), 0);
    let cmp = stats::compare_binned(&fb.counts, &counts);
    let j = stats::judge(&cmp, bands.psi_warning, bands.psi_critical);
    let mut m = FeatureMetrics {
        kind,
        n_ref: cmp.n_ref,
        n_cur: cmp.n_cur,
        psi: cmp.psi,
        psi_critical_value: cmp.psi_critical_value,
        kl: cmp.kl,
        js_distance: cmp.js_distance,
        bins_used: cmp.bins_used,
        ks_statistic: None,
        ks_p_value: None,
        wasserstein: None,
        chi2_p_value: None,
        sampled: false,
        band: j.band,
        significant: j.significant,
        status: j.status,
        reason: j.reason,
        psi_warning: bands.psi_warning,
        psi_critical: bands.psi_critical,
    };
    match kind {
        FeatureKind::Numeric => {
            let values = cur.reservoir.values();
            let reference = reference.unwrap_or(&[]);
            m.sampled = (values.len() as u64) < cur.n || (reference.len() as u64) < fb.n_ref;
            if let Some(ks) = stats::ks_2samp_asymp(reference, &values) {
                m.ks_statistic = Some(ks.statistic);
                m.ks_p_value = Some(p(ks.p_value));
            }
            m.wasserstein = stats::wasserstein_distance(reference, &values);
        }
        FeatureKind::Categorical => {
            m.chi2_p_value = stats::chi2_contingency_p(&fb.counts, &counts).map(p);
        }
    }
    m
}

/// Metrics and the alert level of a check of `model` against `baseline`.
pub fn evaluate(
    model: &MonitoredModel,
    baseline: &Baseline,
    samples: &BTreeMap<String, Vec<f64>>,
    current: &Current,
) -> (Value, AlertLevel) {
    let mut level = AlertLevel::Normal;
    let mut features = serde_json::Map::new();
    let mut drifted = 0;
    let mut insufficient = 0;
    let empty = SlotAggregate::default();
    for (i, fb) in baseline.features.iter().enumerate() {
        let kind = match fb.bins {
            Bins::Numeric { .. } => FeatureKind::Numeric,
            Bins::Categorical { .. } => FeatureKind::Categorical,
        };
        let cur = current.features.get(i).unwrap_or(&empty);
        let m = feature_metrics(
            fb,
            kind,
            cur,
            samples.get(&fb.name).map(Vec::as_slice),
            model.spec.thresholds.bands(&fb.name),
        );
        level = level.max(level_of(m.status));
        if matches!(m.status, FeatureStatus::Warning | FeatureStatus::Critical) {
            drifted += 1;
        }
        if m.status == FeatureStatus::InsufficientData {
            insufficient += 1;
        }
        features.insert(fb.name.clone(), json!(m));
    }
    let output = baseline.output.as_ref().map(|fb| {
        let m = feature_metrics(
            fb,
            FeatureKind::Numeric,
            &current.output,
            samples.get(OUTPUT).map(Vec::as_slice),
            model.spec.thresholds.bands(OUTPUT),
        );
        level = level.max(level_of(m.status));
        m
    });
    let threshold = model.spec.thresholds.bias;
    let reports: Vec<_> = current
        .groups
        .iter()
        .map(|(attr, groups)| bias::group_report(attr, groups, threshold))
        .collect();
    let precomputed = bias::judge_precomputed(&current.precomputed, threshold);
    let bias_alerts = reports
        .iter()
        .filter(|r| r.status == BiasStatus::Alert)
        .count()
        + precomputed.iter().filter(|j| j.flagged).count();
    // A bias gap past the threshold is a warning: it needs a look, not an outage.
    if bias_alerts > 0 {
        level = level.max(AlertLevel::Warning);
    }
    let metrics = json!({
        "features": features,
        "output": output,
        "bias": reports,
        "bias_precomputed": precomputed,
        "input_drift_count": drifted,
        "insufficient_data_count": insufficient,
        "output_drift": output.as_ref().is_some_and(|m| matches!(m.status, FeatureStatus::Warning | FeatureStatus::Critical)),
        "bias_alert_count": bias_alerts,
    });
    (metrics, level)
}

/// The current data of an inline check: the seed's `run_scheduled(model_id, input_data,
/// output_data, bias_data)` as `{"input_data": {feature: [values]}, "output_data":
/// [predictions], "bias_data": [{metric_name, stratum_type, stratum_value,
/// baseline_value, current_value}]}`. Every value is kept, so nothing is sampled.
pub fn inline_current(baseline: &Baseline, body: &Value) -> Result<Current, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut cur = Current {
        features: vec![SlotAggregate::default(); baseline.features.len()],
        ..Current::default()
    };
    let input = match body.get("input_data") {
        None | Some(Value::Null) => serde_json::Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            return Err(vec![FieldError::new(
                "input_data",
                "must be an object of feature name to a list of values",
            )]);
        }
    };
    for k in input.keys() {
        if baseline.position(k).is_none() {
            errors.push(FieldError::new(
                format!("input_data.{k}"),
                "is not a feature of the model's baseline",
            ));
        }
    }
    let column = |field: &str, v: &Value, errors: &mut Vec<FieldError>| -> Option<Vec<Value>> {
        match v.as_array() {
            Some(l) if l.len() <= MAX_VALUES => Some(l.clone()),
            _ => {
                errors.push(FieldError::new(
                    field,
                    format!("must be a list of at most {MAX_VALUES} values"),
                ));
                None
            }
        }
    };
    let numeric_slot =
        |field: &str, name: &str, edges: &[f64], list: &[Value], errors: &mut Vec<FieldError>| {
            let mut agg = SlotAggregate {
                counts: vec![0; edges.len() + 1],
                ..SlotAggregate::default()
            };
            let fh = reservoir::hash_str(name);
            let mut entries = Vec::with_capacity(list.len());
            for (i, x) in list.iter().enumerate() {
                match numeric_value(x) {
                    Some(v) => {
                        agg.n += 1;
                        agg.counts[stats::bin_index(edges, v)] += 1;
                        entries.push((reservoir::key(reservoir::hash_str(&i.to_string()), fh), v));
                    }
                    None => errors.push(FieldError::new(
                        format!("{field}[{i}]"),
                        "must be a finite number of magnitude at most 1e100",
                    )),
                }
            }
            agg.reservoir = Reservoir::from_entries(entries, MAX_VALUES);
            agg
        };
    for (pos, fb) in baseline.features.iter().enumerate() {
        let field = format!("input_data.{}", fb.name);
        let Some(list) = input
            .get(&fb.name)
            .and_then(|v| column(&field, v, &mut errors))
        else {
            continue;
        };
        cur.features[pos] = match &fb.bins {
            Bins::Numeric { edges } => numeric_slot(&field, &fb.name, edges, &list, &mut errors),
            Bins::Categorical { categories } => {
                let mut agg = SlotAggregate {
                    counts: vec![0; categories.len() + 1],
                    ..SlotAggregate::default()
                };
                for (i, x) in list.iter().enumerate() {
                    match categorical_value(x) {
                        Some(c) => {
                            agg.n += 1;
                            agg.counts[stats::category_index(categories, &c)] += 1;
                        }
                        None => errors.push(FieldError::new(
                            format!("{field}[{i}]"),
                            "must be a string, number or boolean",
                        )),
                    }
                }
                agg
            }
        };
    }
    match (body.get("output_data"), &baseline.output) {
        (None | Some(Value::Null), _) => {}
        (Some(v), Some(out)) => {
            if let (Some(list), Bins::Numeric { edges }) =
                (column("output_data", v, &mut errors), &out.bins)
            {
                cur.output = numeric_slot("output_data", OUTPUT, edges, &list, &mut errors);
            }
        }
        (Some(_), None) => errors.push(FieldError::new(
            "output_data",
            "the model's baseline has no reference predictions to compare with",
        )),
    }
    match body.get("bias_data") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) if items.len() <= 1_000 => {
            for (i, item) in items.iter().enumerate() {
                match serde_json::from_value::<PrecomputedBias>(item.clone()) {
                    Ok(b) if b.baseline_value.is_finite() && b.current_value.is_finite() => {
                        cur.precomputed.push(b)
                    }
                    _ => errors.push(FieldError::new(
                        format!("bias_data[{i}]"),
                        "must be {metric_name, stratum_type, stratum_value, baseline_value, current_value}",
                    )),
                }
            }
        }
        Some(_) => errors.push(FieldError::new(
            "bias_data",
            "must be a list of at most 1000 precomputed metrics",
        )),
    }
    if let Some(o) = body.as_object() {
        for k in o.keys() {
            if !["input_data", "output_data", "bias_data", "from", "to"].contains(&k.as_str()) {
                errors.push(FieldError::new(k.as_str(), "is not a check field"));
            }
        }
    }
    if errors.is_empty() {
        Ok(cur)
    } else {
        Err(errors)
    }
}
