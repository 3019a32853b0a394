//! Frozen, versioned baselines: from the seed's `baseline_data: {feature: [values]}` (and
//! optional reference predictions) each numeric feature's quantile edges, reference
//! counts and a bounded reference sample, and each categorical feature's categories and
//! counts. A stored baseline never changes; a new one is a new version.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::model::{FeatureKind, MonitoredModel};
use super::reservoir::{self, Reservoir};
use super::stats;
use crate::domain::FieldError;

/// Most values per feature column (and reference predictions).
pub const MAX_VALUES: usize = 10_000;
/// Most distinct categories a categorical feature's reference may have.
pub const MAX_CATEGORIES: usize = 500;
/// Reference values kept per numeric feature for KS and Wasserstein.
pub const REFERENCE_SAMPLE: usize = 10_000;
/// The name output drift is reported under.
pub const OUTPUT: &str = "prediction";

/// How a feature (or the output) is binned, and its reference counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Bins {
    Numeric {
        /// Right-closed bin edges (reference quantiles, duplicates removed).
        edges: Vec<f64>,
    },
    Categorical {
        /// The reference's categories, sorted; the unseen bin follows them.
        categories: Vec<String>,
    },
}

impl Bins {
    pub fn len(&self) -> usize {
        match self {
            Bins::Numeric { edges } => edges.len() + 1,
            Bins::Categorical { categories } => categories.len() + 1,
        }
    }

    pub fn is_empty(&self) -> bool {
        false
    }
}

/// One feature's frozen reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureBaseline {
    pub name: String,
    pub bins: Bins,
    pub counts: Vec<u64>,
    pub n_ref: u64,
}

/// The baseline header: small enough for one item; samples are stored beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub version: u64,
    /// Names the sample items, so a lost race for a version never mixes two baselines.
    pub uid: String,
    pub model_version: String,
    pub created_at: DateTime<Utc>,
    pub features: Vec<FeatureBaseline>,
    /// Output drift reference, from reference predictions.
    pub output: Option<FeatureBaseline>,
}

/// A numeric feature's reference sample (stored apart: up to 80 KB).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceSample {
    pub feature: String,
    #[serde(with = "reservoir::packed_values")]
    pub values: Vec<f64>,
}

/// A baseline being built: header and samples.
#[derive(Debug, Clone, PartialEq)]
pub struct BuiltBaseline {
    pub header: Baseline,
    pub samples: Vec<ReferenceSample>,
}

impl Baseline {
    pub fn feature(&self, name: &str) -> Option<&FeatureBaseline> {
        if name == OUTPUT {
            return self.output.as_ref();
        }
        self.features.iter().find(|f| f.name == name)
    }

    /// Index of `name` among the baseline's features (the slot its windows use).
    pub fn position(&self, name: &str) -> Option<usize> {
        self.features.iter().position(|f| f.name == name)
    }
}

/// Largest magnitude a numeric value may have: differences and interpolations of
/// values this size stay finite, so no statistic meets an infinity.
pub const MAX_MAGNITUDE: f64 = 1e100;

/// Reads a finite number of at most [`MAX_MAGNITUDE`]; categorical values may be
/// strings, numbers or booleans.
pub fn numeric_value(v: &Value) -> Option<f64> {
    v.as_f64()
        .filter(|x| x.is_finite() && x.abs() <= MAX_MAGNITUDE)
}

pub fn categorical_value(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.contains('\u{0}') => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A bounded, deterministic sample of a reference column: bottom-k by (index, feature).
fn reference_sample(feature: &str, values: &[f64]) -> Vec<f64> {
    if values.len() <= REFERENCE_SAMPLE {
        return values.to_vec();
    }
    let f = reservoir::hash_str(feature);
    let entries = values
        .iter()
        .enumerate()
        .map(|(i, v)| (reservoir::key(reservoir::hash_str(&i.to_string()), f), *v))
        .collect();
    Reservoir::from_entries(entries, REFERENCE_SAMPLE).values()
}

fn numeric_column(field: &str, v: &Value, errors: &mut Vec<FieldError>) -> Option<Vec<f64>> {
    let Some(list) = v.as_array() else {
        errors.push(FieldError::new(field, "must be a list of numbers"));
        return None;
    };
    if list.is_empty() || list.len() > MAX_VALUES {
        errors.push(FieldError::new(
            field,
            format!("must hold 1 to {MAX_VALUES} values"),
        ));
        return None;
    }
    let mut out = Vec::with_capacity(list.len());
    for (i, x) in list.iter().enumerate() {
        match numeric_value(x) {
            Some(n) => out.push(n),
            None => {
                errors.push(FieldError::new(
                    format!("{field}[{i}]"),
                    "must be a finite number of magnitude at most 1e100",
                ));
                return None;
            }
        }
    }
    Some(out)
}

fn numeric_baseline(name: &str, values: &[f64], bins: usize) -> (FeatureBaseline, ReferenceSample) {
    let edges = stats::quantile_edges(values, bins);
    let counts = stats::bin_counts(&edges, values);
    (
        FeatureBaseline {
            name: name.to_string(),
            n_ref: values.len() as u64,
            counts,
            bins: Bins::Numeric { edges },
        },
        ReferenceSample {
            feature: name.to_string(),
            values: reference_sample(name, values),
        },
    )
}

/// Builds version `version` of `model`'s baseline from a `PUT /models/{id}/baseline` body:
/// `{"baseline_data": {feature: [values]}, "reference_predictions": [numbers]?}`. Every
/// monitored feature needs a column.
pub fn build(
    model: &MonitoredModel,
    body: &Value,
    version: u64,
    now: DateTime<Utc>,
) -> Result<BuiltBaseline, Vec<FieldError>> {
    let mut errors = Vec::new();
    let Some(obj) = body.as_object() else {
        return Err(vec![FieldError::new("body", "must be a JSON object")]);
    };
    for k in obj.keys() {
        if !["baseline_data", "reference_predictions"].contains(&k.as_str()) {
            errors.push(FieldError::new(k.as_str(), "is not a baseline field"));
        }
    }
    let Some(data) = obj.get("baseline_data").and_then(Value::as_object) else {
        errors.push(FieldError::new(
            "baseline_data",
            "is required: an object of feature name to a list of values",
        ));
        return Err(errors);
    };
    for k in data.keys() {
        if model.feature(k).is_none() {
            errors.push(FieldError::new(
                format!("baseline_data.{k}"),
                "is not a monitored feature",
            ));
        }
    }
    let mut features = Vec::new();
    let mut samples = Vec::new();
    for f in &model.spec.features {
        let field = format!("baseline_data.{}", f.name);
        let Some(col) = data.get(&f.name) else {
            errors.push(FieldError::new(field, "is required (a monitored feature)"));
            continue;
        };
        match f.kind {
            FeatureKind::Numeric => {
                if let Some(values) = numeric_column(&field, col, &mut errors) {
                    let (fb, sample) = numeric_baseline(&f.name, &values, model.spec.bins);
                    features.push(fb);
                    samples.push(sample);
                }
            }
            FeatureKind::Categorical => {
                let Some(list) = col
                    .as_array()
                    .filter(|l| !l.is_empty() && l.len() <= MAX_VALUES)
                else {
                    errors.push(FieldError::new(
                        field,
                        format!("must be a list of 1 to {MAX_VALUES} categories"),
                    ));
                    continue;
                };
                let mut values = Vec::with_capacity(list.len());
                for (i, x) in list.iter().enumerate() {
                    match categorical_value(x) {
                        Some(s) => values.push(s),
                        None => errors.push(FieldError::new(
                            format!("{field}[{i}]"),
                            "must be a string, number or boolean",
                        )),
                    }
                }
                let categories = stats::categories(&values);
                if categories.len() > MAX_CATEGORIES {
                    errors.push(FieldError::new(
                        field,
                        format!("has more than {MAX_CATEGORIES} distinct categories"),
                    ));
                    continue;
                }
                let mut counts = vec![0u64; categories.len() + 1];
                for v in &values {
                    counts[stats::category_index(&categories, v)] += 1;
                }
                features.push(FeatureBaseline {
                    name: f.name.clone(),
                    n_ref: values.len() as u64,
                    counts,
                    bins: Bins::Categorical { categories },
                });
            }
        }
    }
    let output = match obj.get("reference_predictions") {
        None | Some(Value::Null) => None,
        Some(v) => numeric_column("reference_predictions", v, &mut errors).map(|values| {
            let (fb, sample) = numeric_baseline(OUTPUT, &values, model.spec.bins);
            samples.push(sample);
            fb
        }),
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(BuiltBaseline {
        header: Baseline {
            version,
            uid: uuid::Uuid::now_v7().simple().to_string(),
            model_version: model.spec.model_version.clone(),
            created_at: now,
            features,
            output,
        },
        samples,
    })
}
