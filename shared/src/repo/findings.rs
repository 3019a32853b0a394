//! Stored findings: one item per session under a version, with the statistics counters
//! moved in the same write. How matches fold into sessions is decided in
//! `service::findings`.
use chrono::{DateTime, Utc};

use super::item::{decode, encode, get_with};
use super::page::{Filtered, field_is, query_filtered};
use super::storage_keys::{self, counter};
use crate::domain::{Finding, FindingStatus, Severity, TenantId};
use crate::ports::store::{
    Condition, Cursor, Index, IndexKey, Item, ItemStore, Query, StoreError, WriteOp,
};

#[derive(Debug, Clone, Default)]
pub struct FindingFilter {
    pub severity: Option<Severity>,
    pub user: Option<String>,
    pub rule_id: Option<String>,
    pub status: Option<FindingStatus>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl FindingFilter {
    /// Only the filters that need no scan are set.
    pub fn is_plain(&self) -> bool {
        self.user.is_none()
            && self.rule_id.is_none()
            && self.status.is_none()
            && self.from.is_none()
            && self.to.is_none()
    }
}

fn to_item(tenant: &TenantId, f: &Finding, version: u64) -> Result<Item, StoreError> {
    let data = encode(f)?;
    let sk = storage_keys::timed(f.first_seen, &f.id);
    let mut item = Item::new(
        storage_keys::finding_pk(tenant, &f.id),
        storage_keys::FINDING_SK,
        data,
    );
    item.version = version;
    item.gsi1 = Some(IndexKey::new(
        storage_keys::findings_by_time(tenant),
        sk.clone(),
    ));
    item.gsi2 = Some(IndexKey::new(
        storage_keys::findings_by_severity(tenant, f.severity.as_str()),
        sk.clone(),
    ));
    item.gsi3 = f
        .user
        .as_ref()
        .map(|u| IndexKey::new(storage_keys::findings_by_user(tenant, u), sk));
    Ok(item)
}

pub fn from_item(item: &Item) -> Result<Finding, StoreError> {
    decode(item)
}

/// A finding with the version it was read at.
#[derive(Debug, Clone)]
pub struct Versioned {
    pub finding: Finding,
    pub version: u64,
}

pub async fn get(
    store: &dyn ItemStore,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<Versioned>, StoreError> {
    let pk = storage_keys::finding_pk(tenant, id);
    get_with(store, &pk, storage_keys::FINDING_SK, |i| {
        Ok(Versioned {
            finding: from_item(i)?,
            version: i.version,
        })
    })
    .await
}

/// The statistics counter moves of a write, summed per key (one write may not touch a
/// key twice).
pub struct Counters {
    stats: String,
    deltas: Vec<(String, i64)>,
}

impl Counters {
    pub fn new(tenant: &TenantId) -> Self {
        Self {
            stats: storage_keys::stats_pk(tenant),
            deltas: Vec::new(),
        }
    }

    fn bump(&mut self, key: String, d: i64) {
        match self.deltas.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v += d,
            None => self.deltas.push((key, d)),
        }
    }

    /// A finding going from `before` (None: new) to `after`.
    pub fn moved(&mut self, before: Option<&Finding>, after: &Finding) {
        if let Some(b) = before {
            self.count(b, -1);
        }
        self.count(after, 1);
    }

    /// The counters `f` stands in, `sign` times. A merged finding lives on in its
    /// survivor, so it counts nowhere.
    fn count(&mut self, f: &Finding, sign: i64) {
        if f.status == FindingStatus::Merged {
            return;
        }
        self.bump(counter::FINDINGS.to_string(), sign);
        if let Some(u) = &f.user {
            self.bump(counter::user_findings(u), sign);
        }
        self.bump(counter::findings_severity(f.severity.as_str()), sign);
        if f.status.is_active() {
            self.bump(counter::open_by_rule(&f.rule_id), sign);
        }
    }

    pub fn into_ops(self) -> Vec<WriteOp> {
        let stats = self.stats;
        self.deltas
            .into_iter()
            .filter(|(_, d)| *d != 0)
            .map(|(k, d)| WriteOp::add(&stats, k, d))
            .collect()
    }
}

/// The put of `f` over the version it was read at (0: new, so it must not exist yet).
pub fn put_op(tenant: &TenantId, f: &Finding, read_version: u64) -> Result<WriteOp, StoreError> {
    let condition = if read_version == 0 {
        Condition::NotExists
    } else {
        Condition::Version(read_version)
    };
    Ok(WriteOp::put(
        to_item(tenant, f, read_version + 1)?,
        condition,
    ))
}

/// Writes `after` over the stored version with `extra` ops in the same atomic write
/// (e.g. its audit entry), moving counters with it.
pub async fn replace_with(
    store: &dyn ItemStore,
    tenant: &TenantId,
    before: &Versioned,
    after: &Finding,
    extra: Vec<WriteOp>,
) -> Result<u64, StoreError> {
    let mut counters = Counters::new(tenant);
    counters.moved(Some(&before.finding), after);
    let mut ops = vec![put_op(tenant, after, before.version)?];
    ops.extend(counters.into_ops());
    ops.extend(extra);
    store.write(ops).await?;
    Ok(before.version + 1)
}

/// The query behind [`list`]: the most selective index, newest first.
pub fn list_query(tenant: &TenantId, filter: &FindingFilter) -> Query {
    let (index, pk) = match (&filter.user, filter.severity) {
        (Some(u), _) => (Index::Gsi3, storage_keys::findings_by_user(tenant, u)),
        (None, Some(s)) => (
            Index::Gsi2,
            storage_keys::findings_by_severity(tenant, s.as_str()),
        ),
        (None, None) => (Index::Gsi1, storage_keys::findings_by_time(tenant)),
    };
    Query::new(index, pk)
        .range(storage_keys::time_range(filter.from, filter.to))
        .newest_first()
}

pub async fn list(
    store: &dyn ItemStore,
    tenant: &TenantId,
    filter: &FindingFilter,
    limit: usize,
    after: Option<Cursor>,
) -> Result<Filtered, StoreError> {
    let q = list_query(tenant, filter).after(after);
    query_filtered(store, q, limit, 20_000, |item| {
        field_is(item, "severity", filter.severity.map(Severity::as_str))
            && field_is(item, "rule_id", filter.rule_id.as_deref())
            && field_is(item, "status", filter.status.map(FindingStatus::as_str))
    })
    .await
}

/// Findings that still need a risk score or explanation, newest first.
pub async fn missing_enrichment(
    store: &dyn ItemStore,
    tenant: &TenantId,
    limit: usize,
) -> Result<Vec<Finding>, StoreError> {
    let q = Query::new(Index::Gsi1, storage_keys::findings_by_time(tenant)).newest_first();
    let page = query_filtered(store, q, limit, 50_000, |item| {
        from_item(item)
            .map(|f| f.needs_enrichment())
            .unwrap_or(false)
    })
    .await?;
    page.items.iter().map(from_item).collect()
}
