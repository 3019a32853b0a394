//! Stored drift monitoring: models and their schedule state, baselines with their
//! reference samples, observation windows with their fold markers, checks and counters.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::idempotency::RETENTION;
use super::item::{decode, encode, get_with};
use super::storage_keys::drift as k;
use super::storage_keys::timed;
use crate::domain::TenantId;
use crate::drift::baseline::{Baseline, ReferenceSample};
use crate::drift::check::DriftCheckResult;
use crate::drift::model::MonitoredModel;
use crate::drift::window::SlotAggregate;
use crate::ports::store::{
    Condition, Cursor, Index, IndexKey, Item, ItemStore, KeyRange, Query, StoreError, WriteOp,
};

/// A model with the version it was read at (its ETag).
#[derive(Debug, Clone)]
pub struct VersionedModel {
    pub model: MonitoredModel,
    pub version: u64,
}

pub fn model_item(m: &MonitoredModel, version: u64) -> Result<Item, StoreError> {
    let t = &m.tenant;
    let mut item = Item::new(k::model_pk(t, m.id()), k::MODEL_SK, encode(m)?);
    item.version = version;
    item.gsi1 = Some(IndexKey::new(k::models(t), m.id()));
    if m.spec.enabled {
        item.gsi2 = Some(IndexKey::new(k::enabled_models(t), m.id()));
    }
    Ok(item)
}

pub fn model_from(item: &Item) -> Result<MonitoredModel, StoreError> {
    decode(item)
}

pub async fn get_model(
    store: &dyn ItemStore,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<VersionedModel>, StoreError> {
    get_with(store, &k::model_pk(tenant, id), k::MODEL_SK, |i| {
        Ok(VersionedModel {
            model: model_from(i)?,
            version: i.version,
        })
    })
    .await
}

/// The model as the API and the audit log show it.
pub fn model_view(m: &MonitoredModel, version: u64) -> serde_json::Value {
    let mut out = serde_json::to_value(m).unwrap_or(serde_json::Value::Null);
    if let Some(o) = out.as_object_mut() {
        o.insert("version".into(), serde_json::json!(version));
        o.remove("tenant");
    }
    out
}

pub fn list_query(tenant: &TenantId) -> Query {
    Query::new(Index::Gsi1, k::models(tenant))
}

pub fn enabled_query(tenant: &TenantId) -> Query {
    Query::new(Index::Gsi2, k::enabled_models(tenant))
}

/// When a model runs next. Only enabled models with a schedule sit in the due index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleState {
    pub tenant: TenantId,
    pub model_id: String,
    pub model_uid: String,
    pub next_run: Option<DateTime<Utc>>,
    pub enabled: bool,
    #[serde(default)]
    pub last_run: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct VersionedSchedule {
    pub state: ScheduleState,
    pub version: u64,
}

pub fn schedule_item(s: &ScheduleState, version: u64) -> Result<Item, StoreError> {
    let mut item = Item::new(
        k::model_pk(&s.tenant, &s.model_id),
        k::SCHEDULE_SK,
        encode(s)?,
    );
    item.version = version;
    if let (true, Some(next)) = (s.enabled, s.next_run) {
        item.gsi1 = Some(IndexKey::new(
            k::DUE_INDEX,
            k::due_sk(next, &s.tenant, &s.model_id),
        ));
    }
    Ok(item)
}

pub async fn get_schedule(
    store: &dyn ItemStore,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<VersionedSchedule>, StoreError> {
    get_with(store, &k::model_pk(tenant, id), k::SCHEDULE_SK, |i| {
        Ok(VersionedSchedule {
            state: decode(i)?,
            version: i.version,
        })
    })
    .await
}

/// The query for schedule items due at or before `now`, across tenants.
pub fn due_query(now: DateTime<Utc>) -> Query {
    Query::new(Index::Gsi1, k::DUE_INDEX).range(KeyRange::Between(
        String::new(),
        format!("{}#\u{10FFFF}", crate::domain::event::time_key(now)),
    ))
}

pub fn schedule_from(item: &Item) -> Result<ScheduleState, StoreError> {
    decode(item)
}

// ------------------------------------------------------------------ baselines

pub fn baseline_item(tenant: &TenantId, model_uid: &str, b: &Baseline) -> Result<Item, StoreError> {
    Ok(Item::new(
        k::baseline_pk(tenant, model_uid),
        k::baseline_sk(b.version),
        encode(b)?,
    ))
}

pub fn sample_item(
    tenant: &TenantId,
    model_uid: &str,
    baseline_uid: &str,
    s: &ReferenceSample,
) -> Result<Item, StoreError> {
    Ok(Item::new(
        k::baseline_pk(tenant, model_uid),
        k::sample_sk(baseline_uid, &s.feature),
        encode(s)?,
    ))
}

pub async fn get_baseline(
    store: &dyn ItemStore,
    tenant: &TenantId,
    model_uid: &str,
    version: u64,
) -> Result<Option<Baseline>, StoreError> {
    get_with(
        store,
        &k::baseline_pk(tenant, model_uid),
        &k::baseline_sk(version),
        decode,
    )
    .await
}

/// The reference samples of `baseline`, by feature.
pub async fn get_samples(
    store: &dyn ItemStore,
    tenant: &TenantId,
    model_uid: &str,
    baseline: &Baseline,
) -> Result<BTreeMap<String, Vec<f64>>, StoreError> {
    let q = Query::new(Index::Primary, k::baseline_pk(tenant, model_uid))
        .range(KeyRange::Prefix(format!("S#{}#", baseline.uid)));
    let samples: Vec<ReferenceSample> = super::page::collect_all(store, q, decode).await?;
    Ok(samples.into_iter().map(|s| (s.feature, s.values)).collect())
}

/// A page of a model's baselines, newest first.
pub fn baselines_query(tenant: &TenantId, model_uid: &str) -> Query {
    Query::new(Index::Primary, k::baseline_pk(tenant, model_uid))
        .range(KeyRange::Prefix("V#".into()))
        .newest_first()
}

// ------------------------------------------------------------------ windows

#[derive(Debug, Clone)]
pub struct VersionedWindow {
    pub aggregate: SlotAggregate,
    pub version: u64,
}

pub async fn get_window(
    store: &dyn ItemStore,
    tenant: &TenantId,
    model_uid: &str,
    baseline_version: u64,
    window_sk: &str,
) -> Result<Option<VersionedWindow>, StoreError> {
    get_with(
        store,
        &k::windows_pk(tenant, model_uid, baseline_version),
        window_sk,
        |i| {
            Ok(VersionedWindow {
                aggregate: decode(i)?,
                version: i.version,
            })
        },
    )
    .await
}

/// The write folding `next` over the stored window (at `version`, 0: none yet) with the
/// request's marker (op 1), which makes a second fold of the same request fail.
#[allow(clippy::too_many_arguments)]
pub fn fold_ops(
    tenant: &TenantId,
    model_uid: &str,
    baseline_version: u64,
    window_sk: &str,
    batch: &str,
    next: &SlotAggregate,
    version: u64,
    now: DateTime<Utc>,
) -> Result<Vec<WriteOp>, StoreError> {
    let mut item = Item::new(
        k::windows_pk(tenant, model_uid, baseline_version),
        window_sk,
        encode(next)?,
    );
    item.version = version + 1;
    let condition = match version {
        0 => Condition::NotExists,
        v => Condition::Version(v),
    };
    let mut marker = Item::new(
        k::fold_marker_pk(tenant, model_uid),
        k::fold_marker_sk(batch, window_sk, baseline_version),
        serde_json::Value::Null,
    );
    // A redelivery comes within the idempotency retention; later it is a new request.
    marker.ttl = Some((now + RETENTION).timestamp());
    Ok(vec![
        WriteOp::put(item, condition),
        WriteOp::put(marker, Condition::NotExists),
    ])
}

/// Every stored window of one slot in `[from, to)`.
pub async fn windows_in(
    store: &dyn ItemStore,
    tenant: &TenantId,
    model_uid: &str,
    baseline_version: u64,
    slot: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<SlotAggregate>, StoreError> {
    let lo = k::window_sk(slot, from);
    let hi = k::window_sk(slot, to);
    let q = Query::new(
        Index::Primary,
        k::windows_pk(tenant, model_uid, baseline_version),
    )
    .range(KeyRange::Between(lo, hi.clone()))
    .limit(500);
    let mut out: Vec<SlotAggregate> = Vec::new();
    super::page::for_each_item(store, q, |item| {
        // The upper bound is exclusive.
        if item.sk != hi {
            out.push(decode(&item)?);
        }
        Ok(())
    })
    .await?;
    Ok(out)
}

// ------------------------------------------------------------------ checks

pub fn check_item(
    tenant: &TenantId,
    c: &DriftCheckResult,
    version: u64,
) -> Result<Item, StoreError> {
    let mut item = Item::new(k::check_pk(tenant, &c.check_id), k::CHECK_SK, encode(c)?);
    item.version = version;
    item.gsi1 = Some(IndexKey::new(
        k::checks(tenant, &c.model_uid),
        timed(c.timestamp, &c.check_id),
    ));
    Ok(item)
}

#[derive(Debug, Clone)]
pub struct VersionedCheck {
    pub check: DriftCheckResult,
    pub version: u64,
}

pub async fn get_check(
    store: &dyn ItemStore,
    tenant: &TenantId,
    check_id: &str,
) -> Result<Option<VersionedCheck>, StoreError> {
    get_with(store, &k::check_pk(tenant, check_id), k::CHECK_SK, |i| {
        Ok(VersionedCheck {
            check: decode(i)?,
            version: i.version,
        })
    })
    .await
}

pub fn check_from(item: &Item) -> Result<DriftCheckResult, StoreError> {
    decode(item)
}

/// A model incarnation's checks, newest first, within `[from, to]` when given.
pub fn checks_query(
    tenant: &TenantId,
    model_uid: &str,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Query {
    Query::new(Index::Gsi1, k::checks(tenant, model_uid))
        .range(super::storage_keys::time_range(from, to))
        .newest_first()
}

pub fn counter_op(tenant: &TenantId, name: &str) -> WriteOp {
    WriteOp::add(k::stats_pk(tenant), name, 1)
}

/// The tenant's execution counters, by name.
pub async fn counters(
    store: &dyn ItemStore,
    tenant: &TenantId,
) -> Result<BTreeMap<String, i64>, StoreError> {
    let page = store
        .query(&Query::new(Index::Primary, k::stats_pk(tenant)).limit(100))
        .await?;
    Ok(page.items.into_iter().map(|i| (i.sk, i.count)).collect())
}

/// One page of a tenant's models.
pub async fn models_page(
    store: &dyn ItemStore,
    tenant: &TenantId,
    limit: usize,
    after: Option<Cursor>,
) -> Result<crate::ports::Page, StoreError> {
    store
        .query(&list_query(tenant).limit(limit).after(after))
        .await
}
