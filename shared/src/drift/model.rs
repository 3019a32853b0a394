//! Monitored models: what a tenant registers for drift and bias checks (the seed's
//! `ModelDriftConfig`), parsed at the edge so a stored model is always valid.
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::schedule::{Schedule, ScheduleInterval};
use super::stats::{AlertLevel, DEFAULT_BINS};
use crate::domain::merge_patch::merge_patch;
use crate::domain::validation::has_control;
use crate::domain::{FieldError, TenantId};

pub const DEFAULT_PSI_WARNING: f64 = 0.1;
pub const DEFAULT_PSI_CRITICAL: f64 = 0.25;
pub const DEFAULT_BIAS_THRESHOLD: f64 = 0.1;
pub const MAX_FEATURES: usize = 200;
pub const MAX_NAME: usize = 128;
pub const MIN_BINS: usize = 2;
pub const MAX_BINS: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureKind {
    Numeric,
    Categorical,
}

/// PSI bands; a feature may override the model's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PsiBands {
    pub psi_warning: f64,
    pub psi_critical: f64,
}

impl Default for PsiBands {
    fn default() -> Self {
        Self {
            psi_warning: DEFAULT_PSI_WARNING,
            psi_critical: DEFAULT_PSI_CRITICAL,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feature {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: FeatureKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub psi_warning: f64,
    pub psi_critical: f64,
    /// Demographic parity / equalized odds difference that alerts.
    pub bias: f64,
    /// Per-feature overrides of the PSI bands.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub features: BTreeMap<String, PsiBands>,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            psi_warning: DEFAULT_PSI_WARNING,
            psi_critical: DEFAULT_PSI_CRITICAL,
            bias: DEFAULT_BIAS_THRESHOLD,
            features: BTreeMap::new(),
        }
    }
}

impl Thresholds {
    /// The bands that judge `feature`.
    pub fn bands(&self, feature: &str) -> PsiBands {
        self.features.get(feature).copied().unwrap_or(PsiBands {
            psi_warning: self.psi_warning,
            psi_critical: self.psi_critical,
        })
    }
}

/// What a client sets on a model (POST takes it whole, PATCH merges into it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    pub model_id: String,
    pub model_version: String,
    pub ai_system_id: Option<String>,
    pub features: Vec<Feature>,
    pub thresholds: Thresholds,
    /// Reference quantile bins per numeric feature (before duplicate edges collapse).
    pub bins: usize,
    pub schedule_interval: ScheduleInterval,
    pub schedule_cron: Option<String>,
    pub enabled: bool,
    /// Alert levels that raise a finding and a `model.drift_detected` event.
    pub notify_on: Vec<AlertLevel>,
}

/// A stored model. `uid` is minted at creation, so a model deleted and registered again
/// under the same id never sees the old one's baselines, windows or checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitoredModel {
    pub tenant: TenantId,
    pub uid: String,
    #[serde(flatten)]
    pub spec: ModelSpec,
    /// The current baseline's version; 0 before the first.
    pub baseline_version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl MonitoredModel {
    pub fn create(tenant: &TenantId, spec: ModelSpec, now: DateTime<Utc>) -> Self {
        Self {
            tenant: tenant.clone(),
            uid: uuid::Uuid::now_v7().simple().to_string(),
            spec,
            baseline_version: 0,
            created_at: now,
            updated_at: now,
        }
    }

    pub fn id(&self) -> &str {
        &self.spec.model_id
    }

    pub fn schedule(&self) -> Schedule {
        // The spec was checked when parsed; a cron that no longer parses means no schedule.
        Schedule::new(
            self.spec.schedule_interval,
            self.spec.schedule_cron.as_deref(),
        )
        .unwrap_or(Schedule::Never)
    }

    pub fn feature(&self, name: &str) -> Option<&Feature> {
        self.spec.features.iter().find(|f| f.name == name)
    }

    pub fn notifies(&self, level: AlertLevel) -> bool {
        self.spec.notify_on.contains(&level)
    }
}

/// A name a client gives (model id, feature, group attribute): 1 to 128 characters
/// without control characters; model ids also stay URL-path safe.
fn check_name(field: &str, v: &str, path_safe: bool, errors: &mut Vec<FieldError>) {
    if v.is_empty() || v.chars().count() > MAX_NAME {
        errors.push(FieldError::new(
            field,
            format!("must be 1 to {MAX_NAME} characters"),
        ));
    } else if has_control(v) {
        errors.push(FieldError::new(
            field,
            "must not contain control characters",
        ));
    } else if path_safe
        && !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        errors.push(FieldError::new(
            field,
            "may hold only letters, digits, '-', '_' and '.'",
        ));
    }
}

fn number(v: &Value, field: &str, errors: &mut Vec<FieldError>) -> Option<f64> {
    match v.as_f64() {
        Some(x) if x.is_finite() && x > 0.0 => Some(x),
        _ => {
            errors.push(FieldError::new(field, "must be a positive number"));
            None
        }
    }
}

fn bands(
    obj: &Value,
    prefix: &str,
    base: PsiBands,
    errors: &mut Vec<FieldError>,
) -> Option<PsiBands> {
    let n = errors.len();
    let warning = match obj.get("psi_warning") {
        None | Some(Value::Null) => Some(base.psi_warning),
        Some(v) => number(v, &format!("{prefix}psi_warning"), errors),
    };
    let critical = match obj.get("psi_critical") {
        None | Some(Value::Null) => Some(base.psi_critical),
        Some(v) => number(v, &format!("{prefix}psi_critical"), errors),
    };
    match (warning, critical) {
        (Some(w), Some(c)) if w < c => Some(PsiBands {
            psi_warning: w,
            psi_critical: c,
        }),
        (Some(_), Some(_)) if errors.len() == n => {
            errors.push(FieldError::new(
                format!("{prefix}psi_critical"),
                "must be greater than psi_warning",
            ));
            None
        }
        _ => None,
    }
}

fn parse_level(v: &Value) -> Option<AlertLevel> {
    match v.as_str()? {
        "NORMAL" => Some(AlertLevel::Normal),
        "WARNING" => Some(AlertLevel::Warning),
        "CRITICAL" => Some(AlertLevel::Critical),
        _ => None,
    }
}

const KNOWN: [&str; 10] = [
    "model_id",
    "model_version",
    "ai_system_id",
    "features",
    "thresholds",
    "bins",
    "schedule_interval",
    "schedule_cron",
    "enabled",
    "notify_on",
];

impl ModelSpec {
    /// Parses a `POST /models` body, reporting every bad field at once.
    pub fn from_json(v: &Value) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let Some(obj) = v.as_object() else {
            return Err(vec![FieldError::new("body", "must be a JSON object")]);
        };
        for k in obj.keys() {
            if !KNOWN.contains(&k.as_str()) {
                errors.push(FieldError::new(k.as_str(), "is not a model field"));
            }
        }
        let text = |name: &str, errors: &mut Vec<FieldError>, path_safe: bool| match v.get(name) {
            Some(Value::String(s)) => {
                check_name(name, s, path_safe, errors);
                s.clone()
            }
            None | Some(Value::Null) => {
                errors.push(FieldError::new(name, "is required"));
                String::new()
            }
            Some(_) => {
                errors.push(FieldError::new(name, "must be a string"));
                String::new()
            }
        };
        let model_id = text("model_id", &mut errors, true);
        let model_version = text("model_version", &mut errors, false);
        let ai_system_id = match v.get("ai_system_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                check_name("ai_system_id", s, true, &mut errors);
                Some(s.clone())
            }
            Some(_) => {
                errors.push(FieldError::new("ai_system_id", "must be a string"));
                None
            }
        };
        let mut features = Vec::new();
        match v.get("features") {
            Some(Value::Array(list)) if !list.is_empty() && list.len() <= MAX_FEATURES => {
                let mut seen = BTreeSet::new();
                for (i, f) in list.iter().enumerate() {
                    let field = format!("features[{i}]");
                    let name = f.get("name").and_then(Value::as_str);
                    let kind = match f.get("type").and_then(Value::as_str) {
                        Some("numeric") => Some(FeatureKind::Numeric),
                        Some("categorical") => Some(FeatureKind::Categorical),
                        _ => {
                            errors.push(FieldError::new(
                                format!("{field}.type"),
                                "must be numeric or categorical",
                            ));
                            None
                        }
                    };
                    match name {
                        Some(n) => {
                            check_name(&format!("{field}.name"), n, false, &mut errors);
                            if !seen.insert(n.to_string()) {
                                errors.push(FieldError::new(
                                    format!("{field}.name"),
                                    format!("'{n}' is listed twice"),
                                ));
                            }
                        }
                        None => errors.push(FieldError::new(
                            format!("{field}.name"),
                            "is required and must be a string",
                        )),
                    }
                    if let (Some(n), Some(k)) = (name, kind) {
                        features.push(Feature {
                            name: n.to_string(),
                            kind: k,
                        });
                    }
                }
            }
            _ => errors.push(FieldError::new(
                "features",
                format!("must be a list of 1 to {MAX_FEATURES} {{name, type}} objects"),
            )),
        }
        let mut thresholds = Thresholds::default();
        match v.get("thresholds") {
            None | Some(Value::Null) => {}
            Some(t @ Value::Object(map)) => {
                for k in map.keys() {
                    if !["psi_warning", "psi_critical", "bias", "features"].contains(&k.as_str()) {
                        errors.push(FieldError::new(
                            format!("thresholds.{k}"),
                            "is not a threshold",
                        ));
                    }
                }
                if let Some(b) = bands(t, "thresholds.", PsiBands::default(), &mut errors) {
                    thresholds.psi_warning = b.psi_warning;
                    thresholds.psi_critical = b.psi_critical;
                }
                match t.get("bias") {
                    None | Some(Value::Null) => {}
                    Some(b) => match b.as_f64() {
                        Some(x) if x > 0.0 && x <= 1.0 => thresholds.bias = x,
                        _ => errors.push(FieldError::new(
                            "thresholds.bias",
                            "must be a number above 0 and at most 1",
                        )),
                    },
                }
                match t.get("features") {
                    None | Some(Value::Null) => {}
                    Some(Value::Object(per)) => {
                        let base = PsiBands {
                            psi_warning: thresholds.psi_warning,
                            psi_critical: thresholds.psi_critical,
                        };
                        for (name, o) in per {
                            let prefix = format!("thresholds.features.{name}.");
                            if !features.iter().any(|f| &f.name == name) {
                                errors.push(FieldError::new(
                                    format!("thresholds.features.{name}"),
                                    "is not a monitored feature",
                                ));
                            } else if !o.is_object() {
                                errors.push(FieldError::new(
                                    format!("thresholds.features.{name}"),
                                    "must be an object with psi_warning and/or psi_critical",
                                ));
                            } else if let Some(b) = bands(o, &prefix, base, &mut errors) {
                                thresholds.features.insert(name.clone(), b);
                            }
                        }
                    }
                    Some(_) => errors.push(FieldError::new(
                        "thresholds.features",
                        "must be an object of feature name to bands",
                    )),
                }
            }
            Some(_) => errors.push(FieldError::new("thresholds", "must be an object")),
        }
        let bins = match v.get("bins") {
            None | Some(Value::Null) => DEFAULT_BINS,
            Some(b) => match b.as_u64() {
                Some(n) if (MIN_BINS as u64..=MAX_BINS as u64).contains(&n) => n as usize,
                _ => {
                    errors.push(FieldError::new(
                        "bins",
                        format!("must be a whole number from {MIN_BINS} to {MAX_BINS}"),
                    ));
                    DEFAULT_BINS
                }
            },
        };
        let schedule_interval = match v.get("schedule_interval") {
            None | Some(Value::Null) => ScheduleInterval::Daily,
            Some(s) => match s.as_str().and_then(ScheduleInterval::parse) {
                Some(i) => i,
                None => {
                    errors.push(FieldError::new(
                        "schedule_interval",
                        "must be hourly, daily, weekly or custom",
                    ));
                    ScheduleInterval::Daily
                }
            },
        };
        let schedule_cron = match v.get("schedule_cron") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.trim().to_string()),
            Some(_) => {
                errors.push(FieldError::new("schedule_cron", "must be a string"));
                None
            }
        };
        match (schedule_interval, &schedule_cron) {
            (ScheduleInterval::Custom, None) => errors.push(FieldError::new(
                "schedule_cron",
                "is required when schedule_interval is custom",
            )),
            (ScheduleInterval::Custom, Some(c)) => {
                if let Err(e) = Schedule::new(ScheduleInterval::Custom, Some(c)) {
                    errors.push(FieldError::new("schedule_cron", e));
                }
            }
            (_, Some(_)) => errors.push(FieldError::new(
                "schedule_cron",
                "is only used when schedule_interval is custom",
            )),
            _ => {}
        }
        let enabled = match v.get("enabled") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                errors.push(FieldError::new("enabled", "must be true or false"));
                true
            }
        };
        let notify_on = match v.get("notify_on") {
            None | Some(Value::Null) => vec![AlertLevel::Warning, AlertLevel::Critical],
            Some(Value::Array(list)) => {
                let mut out = Vec::new();
                for (i, l) in list.iter().enumerate() {
                    match parse_level(l) {
                        Some(AlertLevel::Normal) | None => errors.push(FieldError::new(
                            format!("notify_on[{i}]"),
                            "must be WARNING or CRITICAL",
                        )),
                        Some(level) => {
                            if !out.contains(&level) {
                                out.push(level);
                            }
                        }
                    }
                }
                out.sort();
                out
            }
            Some(_) => {
                errors.push(FieldError::new(
                    "notify_on",
                    "must be a list of WARNING and/or CRITICAL",
                ));
                Vec::new()
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            model_id,
            model_version,
            ai_system_id,
            features,
            thresholds,
            bins,
            schedule_interval,
            schedule_cron,
            enabled,
            notify_on,
        })
    }

    /// The spec as a client writes it, for merge patches.
    pub fn to_json(&self) -> Value {
        let per: serde_json::Map<String, Value> = self
            .thresholds
            .features
            .iter()
            .map(|(k, b)| {
                (
                    k.clone(),
                    json!({"psi_warning": b.psi_warning, "psi_critical": b.psi_critical}),
                )
            })
            .collect();
        json!({
            "model_id": self.model_id,
            "model_version": self.model_version,
            "ai_system_id": self.ai_system_id,
            "features": self.features,
            "thresholds": {
                "psi_warning": self.thresholds.psi_warning,
                "psi_critical": self.thresholds.psi_critical,
                "bias": self.thresholds.bias,
                "features": per,
            },
            "bins": self.bins,
            "schedule_interval": self.schedule_interval,
            "schedule_cron": self.schedule_cron,
            "enabled": self.enabled,
            "notify_on": self.notify_on,
        })
    }

    /// `self` with an RFC 7396 merge patch applied; `model_id` cannot change.
    pub fn patched(&self, patch: &Value) -> Result<Self, Vec<FieldError>> {
        if !patch.is_object() {
            return Err(vec![FieldError::new("body", "must be a JSON object")]);
        }
        if let Some(id) = patch.get("model_id") {
            if id.as_str() != Some(self.model_id.as_str()) {
                return Err(vec![FieldError::new("model_id", "cannot be changed")]);
            }
        }
        let mut v = self.to_json();
        // A different interval drops the old cron unless the patch sets one.
        if patch.get("schedule_interval").is_some() && patch.get("schedule_cron").is_none() {
            if let Some(o) = v.as_object_mut() {
                o.remove("schedule_cron");
            }
        }
        merge_patch(&mut v, patch);
        Self::from_json(&v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Value {
        json!({
            "model_id": "fraud",
            "model_version": "2.0.0",
            "features": [{"name": "age", "type": "numeric"}, {"name": "country", "type": "categorical"}],
        })
    }

    #[test]
    fn defaults_are_the_seeds() {
        let s = ModelSpec::from_json(&spec()).unwrap();
        assert_eq!(s.thresholds.psi_warning, 0.1);
        assert_eq!(s.thresholds.psi_critical, 0.25);
        assert_eq!(s.thresholds.bias, 0.1);
        assert_eq!(s.bins, 10);
        assert_eq!(s.schedule_interval, ScheduleInterval::Daily);
        assert!(s.enabled);
        assert_eq!(s.notify_on, [AlertLevel::Warning, AlertLevel::Critical]);
    }

    #[test]
    fn every_bad_field_is_named() {
        let bad = json!({
            "model_id": "has space",
            "features": [{"name": "a", "type": "float"}, {"name": "a", "type": "numeric"}],
            "thresholds": {"psi_warning": 0.3, "psi_critical": 0.2, "features": {"zzz": {}}},
            "schedule_interval": "custom",
            "notify_on": ["NORMAL"],
            "colour": 1,
        });
        let errs = ModelSpec::from_json(&bad).unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        for f in [
            "model_id",
            "model_version",
            "features[0].type",
            "features[1].name",
            "thresholds.psi_critical",
            "thresholds.features.zzz",
            "schedule_cron",
            "notify_on[0]",
            "colour",
        ] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
    }

    #[test]
    fn per_feature_bands_override_and_patches_merge() {
        let mut v = spec();
        v["thresholds"] = json!({"features": {"age": {"psi_critical": 0.5}}});
        let s = ModelSpec::from_json(&v).unwrap();
        assert_eq!(s.thresholds.bands("age").psi_critical, 0.5);
        assert_eq!(s.thresholds.bands("age").psi_warning, 0.1);
        assert_eq!(s.thresholds.bands("country").psi_critical, 0.25);
        let p = s
            .patched(&json!({"schedule_interval": "custom", "schedule_cron": "0 9 * * MON-FRI"}))
            .unwrap();
        assert_eq!(p.schedule_interval, ScheduleInterval::Custom);
        assert_eq!(p.thresholds.bands("age").psi_critical, 0.5);
        let back = p.patched(&json!({"schedule_interval": "hourly"})).unwrap();
        assert_eq!(back.schedule_cron, None);
        assert!(s.patched(&json!({"model_id": "other"})).is_err());
    }
}
