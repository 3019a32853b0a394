//! Observations folded on write: per hourly window and slot (a feature, the output, the
//! bias groups) exact bin counts, categorical counts, bias group counts and a bottom-k
//! reservoir. Every part merges by addition or by union, so the stored windows are the
//! same whatever the order or batching the rows came in, and a check reads
//! O(features × windows) items, never the rows.
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::baseline::{Baseline, Bins, OUTPUT, categorical_value, numeric_value};
use super::bias::GroupCounts;
use super::reservoir::{self, Reservoir};
use super::stats;
use crate::domain::FieldError;
use crate::domain::validation::has_control;

/// Most rows per request.
pub const MAX_ROWS: usize = 10_000;
/// Most group attributes per row, and distinct groups per attribute in one request.
pub const MAX_ATTRIBUTES: usize = 20;
pub const MAX_GROUPS: usize = 100;
/// How far ahead of the clock an observation's timestamp may be.
pub const MAX_SKEW: Duration = Duration::minutes(5);
/// Length of one window.
pub const WINDOW: Duration = Duration::hours(1);

/// What a stored window aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Slot {
    /// The baseline's feature at this position.
    Feature(usize),
    Output,
    Bias,
}

impl Slot {
    pub fn key(self) -> String {
        match self {
            Slot::Feature(i) => format!("f{i:04}"),
            Slot::Output => "o".into(),
            Slot::Bias => "g".into(),
        }
    }
}

/// Bias counts: attribute → group → counts.
pub type GroupTable = BTreeMap<String, BTreeMap<String, GroupCounts>>;

/// One slot over one window (or, merged, over a check's range).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SlotAggregate {
    /// Values folded in.
    pub n: u64,
    /// Per bin of the baseline (numeric edges or categories plus the unseen bin).
    #[serde(default)]
    pub counts: Vec<u64>,
    #[serde(default, skip_serializing_if = "Reservoir::is_empty")]
    pub reservoir: Reservoir,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub groups: GroupTable,
}

impl SlotAggregate {
    pub fn merge(&mut self, other: &SlotAggregate, cap: usize) {
        self.n += other.n;
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.reservoir.merge(&other.reservoir, cap);
        for (attr, groups) in &other.groups {
            let mine = self.groups.entry(attr.clone()).or_default();
            for (g, c) in groups {
                mine.entry(g.clone()).or_default().merge(c);
            }
        }
    }
}

/// The start of the window holding `t`.
pub fn window_of(t: DateTime<Utc>) -> DateTime<Utc> {
    let secs = t.timestamp().div_euclid(WINDOW.num_seconds()) * WINDOW.num_seconds();
    DateTime::from_timestamp(secs, 0).unwrap_or(t)
}

/// A request's rows, folded per (window, slot).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Folded {
    pub rows: usize,
    pub slots: BTreeMap<(DateTime<Utc>, Slot), SlotAggregate>,
}

/// Collects a slot's values before they become counts and a sample.
#[derive(Default)]
struct Pending {
    n: u64,
    counts: Vec<u64>,
    entries: Vec<(u64, f64)>,
    groups: GroupTable,
}

fn binary(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => {
            let x = n.as_f64()?;
            if x == 0.0 {
                Some(false)
            } else if x == 1.0 {
                Some(true)
            } else {
                None
            }
        }
        _ => None,
    }
}

const ROW_FIELDS: [&str; 6] = [
    "features",
    "prediction",
    "label",
    "groups",
    "timestamp",
    "observation_id",
];

/// Parses and folds `POST /models/{id}/observations` (`{"rows": [...]}`) against
/// `baseline`. Rows without an `observation_id` are named `{batch}:{index}`, so a
/// redelivered request (same Idempotency-Key) samples exactly as the first.
pub fn fold(
    baseline: &Baseline,
    body: &Value,
    batch: &str,
    now: DateTime<Utc>,
    cap: usize,
) -> Result<Folded, Vec<FieldError>> {
    let mut errors = Vec::new();
    let rows = match body.get("rows") {
        Some(Value::Array(rows)) if !rows.is_empty() && rows.len() <= MAX_ROWS => rows,
        _ => {
            return Err(vec![FieldError::new(
                "rows",
                format!("must be a list of 1 to {MAX_ROWS} observations"),
            )]);
        }
    };
    if let Some(o) = body.as_object() {
        for k in o.keys().filter(|k| *k != "rows") {
            errors.push(FieldError::new(k.as_str(), "is not an observations field"));
        }
    }
    let feature_hashes: Vec<u64> = baseline
        .features
        .iter()
        .map(|f| reservoir::hash_str(&f.name))
        .collect();
    let output_hash = reservoir::hash_str(&format!("\u{0}{OUTPUT}"));
    let mut pending: BTreeMap<(DateTime<Utc>, Slot), Pending> = BTreeMap::new();
    let mut ids = BTreeSet::new();
    for (i, row) in rows.iter().enumerate() {
        let at = |f: &str| format!("rows[{i}].{f}");
        let Some(obj) = row.as_object() else {
            errors.push(FieldError::new(format!("rows[{i}]"), "must be an object"));
            continue;
        };
        let before = errors.len();
        for k in obj.keys() {
            if !ROW_FIELDS.contains(&k.as_str()) {
                errors.push(FieldError::new(at(k), "is not an observation field"));
            }
        }
        let row_id = match obj.get("observation_id") {
            None | Some(Value::Null) => format!("{batch}:{i}"),
            Some(Value::String(s)) if !s.is_empty() && s.len() <= 128 && !has_control(s) => {
                if !ids.insert(s.clone()) {
                    errors.push(FieldError::new(
                        at("observation_id"),
                        "appears twice in this request",
                    ));
                }
                format!("id:{s}")
            }
            Some(_) => {
                errors.push(FieldError::new(
                    at("observation_id"),
                    "must be 1 to 128 characters without control characters",
                ));
                continue;
            }
        };
        let ts = match obj.get("timestamp") {
            None | Some(Value::Null) => now,
            Some(Value::String(s)) => match DateTime::parse_from_rfc3339(s) {
                Ok(t) if t.to_utc() <= now + MAX_SKEW => t.to_utc(),
                Ok(_) => {
                    errors.push(FieldError::new(
                        at("timestamp"),
                        "is more than 5 minutes in the future",
                    ));
                    continue;
                }
                Err(_) => {
                    errors.push(FieldError::new(
                        at("timestamp"),
                        "must be an RFC 3339 date-time",
                    ));
                    continue;
                }
            },
            Some(_) => {
                errors.push(FieldError::new(
                    at("timestamp"),
                    "must be an RFC 3339 date-time",
                ));
                continue;
            }
        };
        let window = window_of(ts);
        let row_hash = reservoir::hash_str(&row_id);
        // Values are collected per row first, so a bad row adds nothing.
        let mut values: Vec<(Slot, Option<f64>, usize)> = Vec::new();
        match obj.get("features") {
            None | Some(Value::Null) => {}
            Some(Value::Object(fs)) => {
                for (name, v) in fs {
                    let Some(pos) = baseline.position(name) else {
                        errors.push(FieldError::new(
                            at(&format!("features.{name}")),
                            "is not a feature of the model's baseline",
                        ));
                        continue;
                    };
                    if v.is_null() {
                        continue;
                    }
                    let fb = &baseline.features[pos];
                    match &fb.bins {
                        Bins::Numeric { edges } => match numeric_value(v) {
                            Some(x) => values.push((
                                Slot::Feature(pos),
                                Some(x),
                                stats::bin_index(edges, x),
                            )),
                            None => errors.push(FieldError::new(
                                at(&format!("features.{name}")),
                                "must be a finite number of magnitude at most 1e100",
                            )),
                        },
                        Bins::Categorical { categories } => match categorical_value(v) {
                            Some(c) => values.push((
                                Slot::Feature(pos),
                                None,
                                stats::category_index(categories, &c),
                            )),
                            None => errors.push(FieldError::new(
                                at(&format!("features.{name}")),
                                "must be a string, number or boolean",
                            )),
                        },
                    }
                }
            }
            Some(_) => errors.push(FieldError::new(at("features"), "must be an object")),
        }
        let prediction = match obj.get("prediction") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(if *b { 1.0 } else { 0.0 }),
            Some(v) => match numeric_value(v) {
                Some(x) => Some(x),
                None => {
                    errors.push(FieldError::new(
                        at("prediction"),
                        "must be a boolean or a finite number of magnitude at most 1e100",
                    ));
                    None
                }
            },
        };
        if let (Some(p), Some(out)) = (prediction, &baseline.output) {
            if let Bins::Numeric { edges } = &out.bins {
                values.push((Slot::Output, Some(p), stats::bin_index(edges, p)));
            }
        }
        let label = match obj.get("label") {
            None | Some(Value::Null) => None,
            Some(v) => match binary(v) {
                Some(b) => Some(b),
                None => {
                    errors.push(FieldError::new(at("label"), "must be 0, 1, true or false"));
                    None
                }
            },
        };
        let mut groups: Vec<(String, String)> = Vec::new();
        match obj.get("groups") {
            None | Some(Value::Null) => {}
            Some(Value::Object(gs)) if gs.len() <= MAX_ATTRIBUTES => {
                for (attr, v) in gs {
                    match categorical_value(v) {
                        Some(g) if g.len() <= 128 && !has_control(attr) && attr.len() <= 128 => {
                            groups.push((attr.clone(), g))
                        }
                        _ => errors.push(FieldError::new(
                            at(&format!("groups.{attr}")),
                            "must be a group name of at most 128 characters",
                        )),
                    }
                }
            }
            Some(_) => errors.push(FieldError::new(
                at("groups"),
                format!("must be an object of at most {MAX_ATTRIBUTES} attribute: group pairs"),
            )),
        }
        let decision = match (&groups.is_empty(), obj.get("prediction")) {
            (true, _) => None,
            (false, Some(p)) => match binary(p) {
                Some(b) => Some(b),
                None => {
                    errors.push(FieldError::new(
                        at("prediction"),
                        "must be 0, 1, true or false on a row with groups (bias needs a decision)",
                    ));
                    None
                }
            },
            (false, None) => {
                errors.push(FieldError::new(
                    at("prediction"),
                    "is required on a row with groups",
                ));
                None
            }
        };
        if errors.len() > before {
            continue;
        }
        for (slot, x, bin) in values {
            let p = pending.entry((window, slot)).or_default();
            let bins = match slot {
                Slot::Feature(pos) => baseline.features[pos].bins.len(),
                _ => baseline.output.as_ref().map_or(1, |o| o.bins.len()),
            };
            if p.counts.len() < bins {
                p.counts.resize(bins, 0);
            }
            p.n += 1;
            p.counts[bin] += 1;
            if let Some(x) = x {
                let fh = match slot {
                    Slot::Feature(pos) => feature_hashes[pos],
                    _ => output_hash,
                };
                p.entries.push((reservoir::key(row_hash, fh), x));
            }
        }
        if let Some(d) = decision {
            let p = pending.entry((window, Slot::Bias)).or_default();
            p.n += 1;
            for (attr, g) in groups {
                p.groups
                    .entry(attr)
                    .or_default()
                    .entry(g)
                    .or_default()
                    .add(d, label);
            }
        }
    }
    for ((_, slot), p) in &pending {
        if *slot == Slot::Bias {
            if let Some((attr, _)) = p.groups.iter().find(|(_, g)| g.len() > MAX_GROUPS) {
                errors.push(FieldError::new(
                    format!("groups.{attr}"),
                    format!("has more than {MAX_GROUPS} distinct groups"),
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let slots = pending
        .into_iter()
        .map(|(k, p)| {
            (
                k,
                SlotAggregate {
                    n: p.n,
                    counts: p.counts,
                    reservoir: Reservoir::from_entries(p.entries, cap),
                    groups: p.groups,
                },
            )
        })
        .collect();
    Ok(Folded {
        rows: rows.len(),
        slots,
    })
}
