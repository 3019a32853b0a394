//! Re-classification runs: the per-tenant lease, the run record, its counters (moved
//! with `WriteOp::Add`) and the page and batch markers that make counting exact when
//! SQS redelivers a message.
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::item::{decode, encode};
use super::page::for_each_item;
use super::storage_keys::ai_systems::{self as k, counter};
use crate::domain::TenantId;
use crate::domain::ai_system::{ReclassifyRun, RunStatus};
use crate::ports::store::{
    Condition, Cursor, Index, IndexKey, Item, ItemStore, KeyRange, Query, StoreError, WriteOp,
};

/// Page and batch markers outlive any redelivery by far.
const MARKER_TTL_DAYS: i64 = 14;

/// Who may run a tenant's re-classification, until when.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lease {
    pub run_id: String,
    pub expires_at: DateTime<Utc>,
}

fn run_item(run: &ReclassifyRun, version: u64) -> Result<Item, StoreError> {
    let data = encode(run)?;
    let mut item = Item::new(k::run_pk(&run.tenant, &run.id), k::RUN_SK, data);
    item.version = version;
    item.gsi1 = Some(IndexKey::new(k::runs(&run.tenant), run.id.clone()));
    Ok(item)
}

fn run_from(item: &Item) -> Result<ReclassifyRun, StoreError> {
    decode(item)
}

fn malformed(e: serde_json::Error) -> StoreError {
    StoreError::Malformed(e.to_string())
}

/// The tenant's lease as stored, with its version.
pub async fn lease(
    store: &dyn ItemStore,
    tenant: &TenantId,
) -> Result<Option<(Lease, u64)>, StoreError> {
    match store.get(&k::lease_pk(tenant), k::LEASE_SK).await? {
        None => Ok(None),
        Some(item) => Ok(Some((
            serde_json::from_value(item.data).map_err(malformed)?,
            item.version,
        ))),
    }
}

/// The write taking the lease: over `held` (its version), or where none is stored.
pub fn lease_op(
    tenant: &TenantId,
    lease: &Lease,
    held: Option<u64>,
) -> Result<WriteOp, StoreError> {
    let mut item = Item::new(k::lease_pk(tenant), k::LEASE_SK, encode(lease)?);
    Ok(match held {
        None => WriteOp::put(item, Condition::NotExists),
        Some(v) => {
            item.version = v + 1;
            WriteOp::put(item, Condition::Version(v))
        }
    })
}

/// A run record with its version.
pub async fn run(
    store: &dyn ItemStore,
    tenant: &TenantId,
    run_id: &str,
) -> Result<Option<(ReclassifyRun, u64)>, StoreError> {
    match store.get(&k::run_pk(tenant, run_id), k::RUN_SK).await? {
        None => Ok(None),
        Some(item) => Ok(Some((run_from(&item)?, item.version))),
    }
}

/// The write of `run`: new (`read_version` None) or over the version read.
pub fn run_op(run: &ReclassifyRun, read_version: Option<u64>) -> Result<WriteOp, StoreError> {
    Ok(match read_version {
        None => WriteOp::put(run_item(run, 1)?, Condition::NotExists),
        Some(v) => WriteOp::put(run_item(run, v + 1)?, Condition::Version(v)),
    })
}

/// Gives the lease up if `run_id` still holds it.
pub async fn release(
    store: &dyn ItemStore,
    tenant: &TenantId,
    run_id: &str,
) -> Result<(), StoreError> {
    let pk = k::lease_pk(tenant);
    let Some(held) = store.get(&pk, k::LEASE_SK).await? else {
        return Ok(());
    };
    let current: Lease = serde_json::from_value(held.data.clone()).map_err(malformed)?;
    if current.run_id != run_id {
        return Ok(());
    }
    match store
        .write(vec![WriteOp::Delete {
            pk,
            sk: k::LEASE_SK.into(),
            condition: Condition::Version(held.version),
        }])
        .await
    {
        Ok(()) | Err(StoreError::ConditionFailed { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// A run with its counters, as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    #[serde(flatten)]
    pub run: ReclassifyRun,
    pub systems_scanned: i64,
    pub systems_skipped: i64,
    pub drift_events: i64,
    pub failures: i64,
    pub batches_total: i64,
    pub batches_done: i64,
    pub scan_complete: bool,
    pub duration_ms: i64,
    #[serde(skip)]
    pub version: u64,
}

pub async fn get(
    store: &dyn ItemStore,
    tenant: &TenantId,
    run_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<RunView>, StoreError> {
    let pk = k::run_pk(tenant, run_id);
    let Some(record) = store.get(&pk, k::RUN_SK).await? else {
        return Ok(None);
    };
    let run = run_from(&record)?;
    let mut counters = std::collections::HashMap::new();
    let q = Query::new(Index::Primary, &pk)
        .range(KeyRange::Prefix(k::COUNTER_PREFIX.into()))
        .limit(50);
    for_each_item(store, q, |i| {
        counters.insert(i.sk, i.count);
        Ok(())
    })
    .await?;
    let n = |name: &str| counters.get(name).copied().unwrap_or(0);
    let end = run.finished_at.unwrap_or(now);
    Ok(Some(RunView {
        systems_scanned: n(counter::SCANNED),
        systems_skipped: n(counter::SKIPPED),
        drift_events: n(counter::DRIFT),
        failures: n(counter::FAILURES),
        batches_total: n(counter::BATCHES_TOTAL),
        batches_done: n(counter::BATCHES_DONE),
        scan_complete: n(counter::SCAN_DONE) > 0,
        duration_ms: (end - run.started_at).num_milliseconds().max(0),
        version: record.version,
        run,
    }))
}

pub fn list_query(tenant: &TenantId) -> Query {
    Query::new(Index::Gsi1, k::runs(tenant)).newest_first()
}

pub async fn list(
    store: &dyn ItemStore,
    tenant: &TenantId,
    limit: usize,
    after: Option<Cursor>,
) -> Result<(Vec<ReclassifyRun>, Option<Cursor>), StoreError> {
    let page = store
        .query(&list_query(tenant).limit(limit).after(after))
        .await?;
    let runs = page.items.iter().map(run_from).collect::<Result<_, _>>()?;
    Ok((runs, page.next))
}

fn marker(pk: &str, sk: String, now: DateTime<Utc>) -> WriteOp {
    let mut item = Item::new(pk, sk, serde_json::Value::Null);
    item.ttl = Some((now + Duration::days(MARKER_TTL_DAYS)).timestamp());
    WriteOp::put(item, Condition::NotExists)
}

/// Records a scanned page once: its batches join the total; the last page closes the
/// scan. Returns false when the page was already recorded (a redelivery).
pub async fn record_page(
    store: &dyn ItemStore,
    tenant: &TenantId,
    run_id: &str,
    page: u64,
    batches: i64,
    last: bool,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let pk = k::run_pk(tenant, run_id);
    let mut ops = vec![marker(&pk, k::page_marker(page), now)];
    if batches > 0 {
        ops.push(WriteOp::add(&pk, counter::BATCHES_TOTAL, batches));
    }
    if last {
        ops.push(WriteOp::add(&pk, counter::SCAN_DONE, 1));
    }
    already_done(store.write(ops).await)
}

/// What one batch did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchTally {
    pub scanned: i64,
    pub skipped: i64,
    pub failures: i64,
}

/// Counts a finished batch once. Returns false when it was already counted.
pub async fn record_batch(
    store: &dyn ItemStore,
    tenant: &TenantId,
    run_id: &str,
    batch: &str,
    tally: BatchTally,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let pk = k::run_pk(tenant, run_id);
    let mut ops = vec![
        marker(&pk, k::batch_marker(batch), now),
        WriteOp::add(&pk, counter::BATCHES_DONE, 1),
    ];
    for (name, n) in [
        (counter::SCANNED, tally.scanned),
        (counter::SKIPPED, tally.skipped),
        (counter::FAILURES, tally.failures),
    ] {
        if n != 0 {
            ops.push(WriteOp::add(&pk, name, n));
        }
    }
    already_done(store.write(ops).await)
}

fn already_done(r: Result<(), StoreError>) -> Result<bool, StoreError> {
    match r {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed { op: 0 }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The counter op a recorded drift event moves, in the drift event's own write.
pub fn drift_counter_op(tenant: &TenantId, run_id: &str) -> WriteOp {
    WriteOp::add(k::run_pk(tenant, run_id), counter::DRIFT, 1)
}

/// Closes the run if every batch is counted; releases the lease. Returns the run when
/// this call closed it.
pub async fn finish_if_done(
    store: &dyn ItemStore,
    tenant: &TenantId,
    run_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<RunView>, StoreError> {
    let Some(view) = get(store, tenant, run_id, now).await? else {
        return Ok(None);
    };
    if view.run.status != RunStatus::Running
        || !view.scan_complete
        || view.batches_done < view.batches_total
    {
        return Ok(None);
    }
    let mut run = view.run.clone();
    run.status = RunStatus::Completed;
    run.finished_at = Some(now);
    match store
        .write(vec![WriteOp::put(
            run_item(&run, view.version + 1)?,
            Condition::Version(view.version),
        )])
        .await
    {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { .. }) => return Ok(None),
        Err(e) => return Err(e),
    }
    release(store, tenant, run_id).await?;
    get(store, tenant, run_id, now).await
}

/// Marks a run failed (it could not even be fanned out) and frees the lease.
pub async fn fail(
    store: &dyn ItemStore,
    tenant: &TenantId,
    run_id: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if let Some(view) = get(store, tenant, run_id, now).await? {
        let mut run = view.run;
        run.status = RunStatus::Failed;
        run.finished_at = Some(now);
        store
            .write(vec![WriteOp::put(
                run_item(&run, view.version + 1)?,
                Condition::Version(view.version),
            )])
            .await?;
    }
    release(store, tenant, run_id).await
}
