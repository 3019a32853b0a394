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
    /// The index [`list_query`] reads applies every filter set, so its key range selects
    /// exactly the findings wanted (counted and skipped without reading them).
    pub fn is_exact(&self) -> bool {
        if self.status == Some(FindingStatus::Merged) {
            // Merged findings are only in the status indexes (see `to_item`).
            return self.user.is_none() && self.severity.is_none();
        }
        let others = [
            self.severity.is_some(),
            self.rule_id.is_some() || self.status.is_some(),
        ];
        match &self.user {
            Some(_) => others.iter().all(|set| !set),
            None => others.iter().filter(|set| **set).count() <= 1,
        }
    }

    /// The statistics counter holding how many findings match, if one does: the filters
    /// set are at most one of severity, user, or status and rule, with no time range.
    fn counter(&self) -> Option<String> {
        if !self.is_exact() || self.from.is_some() || self.to.is_some() {
            return None;
        }
        let status = self.status.map(FindingStatus::as_str);
        Some(match (&self.user, self.severity, status, &self.rule_id) {
            (Some(u), ..) => counter::user_findings(u),
            (None, Some(s), ..) => counter::findings_severity(s.as_str()),
            (None, None, Some(s), Some(r)) => counter::findings_status_rule(s, r),
            (None, None, Some(s), None) => counter::findings_status(s),
            (None, None, None, Some(r)) => counter::findings_rule(r),
            (None, None, None, None) => counter::FINDINGS.to_string(),
        })
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
    let (status, rule) = (f.status.as_str(), f.rule_id.as_str());
    item.gsi4 = Some(IndexKey::new(
        storage_keys::findings_by_status(tenant, status),
        sk.clone(),
    ));
    item.gsi6 = Some(IndexKey::new(
        storage_keys::findings_by_status_rule(tenant, status, rule),
        sk.clone(),
    ));
    if f.status == FindingStatus::Merged {
        // A merged finding lives on in its survivor: it leaves the lists of live
        // findings (and their counters) and answers only `?status=merged` and its id.
        return Ok(item);
    }
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
        .map(|u| IndexKey::new(storage_keys::findings_by_user(tenant, u), sk.clone()));
    item.gsi5 = Some(IndexKey::new(
        storage_keys::findings_by_rule(tenant, rule),
        sk,
    ));
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

/// The counters that count a live `f` by its attributes (which may change on a write),
/// besides the tenant's and its user's totals.
fn tally(f: &Finding) -> Vec<String> {
    let (status, rule) = (f.status.as_str(), f.rule_id.as_str());
    let mut keys = vec![
        counter::findings_severity(f.severity.as_str()),
        counter::findings_status(status),
        counter::findings_rule(rule),
        counter::findings_status_rule(status, rule),
    ];
    if f.status.is_active() {
        keys.push(counter::open_by_rule(rule));
        keys.push(counter::open_by_severity(f.severity.as_str()));
    }
    keys
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

    /// A finding going from `before` (None: new) to `after`: it leaves every counter
    /// `before` was counted in and joins those of `after`.
    pub fn moved(&mut self, before: Option<&Finding>, after: &Finding) {
        if let Some(b) = before {
            self.count(b, -1);
        }
        self.count(after, 1);
    }

    /// The counters `f` stands in, `sign` times. A merged finding lives on in its
    /// survivor, so it counts only under status `merged` (what `?status=merged` totals).
    fn count(&mut self, f: &Finding, sign: i64) {
        if f.status == FindingStatus::Merged {
            let (status, rule) = (f.status.as_str(), f.rule_id.as_str());
            self.bump(counter::findings_status(status), sign);
            self.bump(counter::findings_status_rule(status, rule), sign);
            return;
        }
        self.bump(counter::FINDINGS.to_string(), sign);
        if let Some(u) = &f.user {
            self.bump(counter::user_findings(u), sign);
        }
        for key in tally(f) {
            self.bump(key, sign);
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
    let status = filter.status.map(FindingStatus::as_str);
    // Merged findings are only in the status indexes; their user is filtered after.
    let user = filter
        .user
        .as_ref()
        .filter(|_| filter.status != Some(FindingStatus::Merged));
    let (index, pk) = match (user, status, &filter.rule_id, filter.severity) {
        (Some(u), ..) => (Index::Gsi3, storage_keys::findings_by_user(tenant, u)),
        (None, Some(s), Some(r), _) => (
            Index::Gsi6,
            storage_keys::findings_by_status_rule(tenant, s, r),
        ),
        (None, Some(s), None, _) => (Index::Gsi4, storage_keys::findings_by_status(tenant, s)),
        (None, None, Some(r), _) => (Index::Gsi5, storage_keys::findings_by_rule(tenant, r)),
        (None, None, None, Some(s)) => (
            Index::Gsi2,
            storage_keys::findings_by_severity(tenant, s.as_str()),
        ),
        (None, None, None, None) => (Index::Gsi1, storage_keys::findings_by_time(tenant)),
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
            && field_is(item, "user", filter.user.as_deref())
    })
    .await
}

/// How many findings match `filter`: from its counter when one holds it, else a count
/// of the index range when that is exact, else by reading the matches (filters that
/// combine severity or user with others; bounded by what they select).
pub async fn total(
    store: &dyn ItemStore,
    tenant: &TenantId,
    filter: &FindingFilter,
) -> Result<u64, StoreError> {
    if let Some(key) = filter.counter() {
        let n = super::stats::single(store, tenant, &key).await?;
        return Ok(u64::try_from(n).unwrap_or_default());
    }
    if filter.is_exact() {
        return store.count(&list_query(tenant, filter)).await;
    }
    let mut n = 0;
    let mut after = None;
    loop {
        let got = list(store, tenant, filter, 100, after).await?;
        n += got.items.len() as u64;
        match got.next {
            Some(c) => after = Some(c),
            None => return Ok(n),
        }
    }
}

/// The offset page `[skip, skip + size)` of [`list`]. When the index is exact the first
/// `skip` findings are stepped over in the index without reading them; otherwise they
/// are read and filtered. Callers cap `skip` (deep pages should use cursors).
pub async fn page_at(
    store: &dyn ItemStore,
    tenant: &TenantId,
    filter: &FindingFilter,
    skip: usize,
    size: usize,
) -> Result<Filtered, StoreError> {
    let empty = || Filtered {
        items: Vec::new(),
        next: None,
    };
    if skip == 0 {
        return list(store, tenant, filter, size, None).await;
    }
    let after = if filter.is_exact() {
        store.skip(&list_query(tenant, filter), skip).await?
    } else {
        let mut after = None;
        let mut skipped = 0;
        while skipped < skip {
            let got = list(store, tenant, filter, (skip - skipped).min(100), after).await?;
            skipped += got.items.len();
            after = got.next;
            if after.is_none() {
                break;
            }
        }
        after.filter(|_| skipped == skip)
    };
    match after {
        Some(c) => list(store, tenant, filter, size, Some(c)).await,
        None => Ok(empty()),
    }
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
