//! The statistics summary, read from counters maintained on write.
use serde::Serialize;

use super::page::collect_all;
use super::storage_keys::{self, counter};
use crate::domain::{Severity, TenantId};
use crate::ports::store::{Index, ItemStore, KeyRange, Query, StoreError};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DayCount {
    pub date: String,
    pub count: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Ranked {
    pub key: String,
    pub count: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub total_events: i64,
    pub total_findings: i64,
    pub findings_by_severity: std::collections::BTreeMap<String, i64>,
    /// Active (open or acknowledged) findings by severity.
    pub open_findings_by_severity: std::collections::BTreeMap<String, i64>,
    /// Events whose time is in the 24 hours up to now (from the per-minute counters).
    pub events_last_24h: i64,
    pub events_over_time: Vec<DayCount>,
    pub open_findings_by_rule: Vec<Ranked>,
    pub top_users_by_findings: Vec<Ranked>,
    pub top_users_by_events: Vec<Ranked>,
}

async fn prefix(
    store: &dyn ItemStore,
    tenant: &TenantId,
    p: &str,
) -> Result<Vec<(String, i64)>, StoreError> {
    let q = Query::new(Index::Primary, storage_keys::stats_pk(tenant))
        .range(KeyRange::Prefix(p.to_string()))
        .limit(1000);
    collect_all(store, q, |i| {
        Ok((i.sk.trim_start_matches(p).to_string(), i.count))
    })
    .await
}

/// The value of one counter (0 when never moved).
pub async fn single(store: &dyn ItemStore, tenant: &TenantId, sk: &str) -> Result<i64, StoreError> {
    Ok(store
        .get(&storage_keys::stats_pk(tenant), sk)
        .await?
        .map(|i| i.count)
        .unwrap_or_default())
}

fn top(mut v: Vec<(String, i64)>, n: usize) -> Vec<Ranked> {
    v.retain(|(_, c)| *c > 0);
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.into_iter()
        .take(n)
        .map(|(key, count)| Ranked { key, count })
        .collect()
}

pub async fn total_findings(store: &dyn ItemStore, tenant: &TenantId) -> Result<i64, StoreError> {
    single(store, tenant, counter::FINDINGS).await
}

/// Every severity, with the counters under `p` (0 where a counter never moved).
async fn by_severity(
    store: &dyn ItemStore,
    tenant: &TenantId,
    p: &str,
) -> Result<std::collections::BTreeMap<String, i64>, StoreError> {
    let mut out: std::collections::BTreeMap<String, i64> = Severity::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), 0))
        .collect();
    for (k, v) in prefix(store, tenant, p).await? {
        out.insert(k, v);
    }
    Ok(out)
}

/// The summary as of `now` (which decides the last 24 hours).
pub async fn summary(
    store: &dyn ItemStore,
    tenant: &TenantId,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Summary, StoreError> {
    let findings_by_severity = by_severity(store, tenant, "findings_sev#").await?;
    let open_findings_by_severity = by_severity(store, tenant, "open_sev#").await?;
    let to = crate::rules::volume::minute_of(now);
    let events_last_24h = super::events::minute_counts(store, tenant, to - 24 * 60 + 1, to)
        .await?
        .values()
        .map(|c| i64::try_from(*c).unwrap_or(i64::MAX))
        .fold(0_i64, i64::saturating_add);
    let events_over_time = prefix(store, tenant, "events_day#")
        .await?
        .into_iter()
        .map(|(date, count)| DayCount { date, count })
        .collect();
    Ok(Summary {
        total_events: single(store, tenant, counter::EVENTS).await?,
        total_findings: single(store, tenant, counter::FINDINGS).await?,
        findings_by_severity,
        open_findings_by_severity,
        events_last_24h,
        events_over_time,
        open_findings_by_rule: top(prefix(store, tenant, "open_rule#").await?, 50),
        top_users_by_findings: top(prefix(store, tenant, "user_findings#").await?, 10),
        top_users_by_events: top(prefix(store, tenant, "user_events#").await?, 10),
    })
}
