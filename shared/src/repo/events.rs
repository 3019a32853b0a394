//! Stored events and the counters kept with them.
use chrono::{DateTime, Utc};

use super::item::{decode, get_with};
use super::page::{Filtered, field_is, query_filtered};
use super::storage_keys::{self, counter};
use crate::domain::{Event, TenantId};
use crate::ports::store::{
    Condition, Index, IndexKey, Item, ItemStore, KeyRange, Query, StoreError, WriteOp,
};

/// Filters of `GET /events`.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub user: Option<String>,
    pub event_type: Option<String>,
    pub source: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

fn to_item(tenant: &TenantId, e: &Event) -> Result<Item, StoreError> {
    let data = serde_json::to_value(e).map_err(|err| StoreError::Malformed(err.to_string()))?;
    let sk = storage_keys::timed(e.timestamp, &e.id);
    let mut item = Item::new(
        storage_keys::event_pk(tenant, &e.id),
        storage_keys::EVENT_SK,
        data,
    );
    item.gsi1 = Some(IndexKey::new(
        storage_keys::events_by_time(tenant),
        sk.clone(),
    ));
    item.gsi2 = Some(IndexKey::new(
        storage_keys::events_by_user(tenant, &e.user),
        sk.clone(),
    ));
    item.gsi3 = Some(IndexKey::new(
        storage_keys::events_by_type(tenant, e.event_type.as_str()),
        sk,
    ));
    Ok(item)
}

pub fn from_item(item: &Item) -> Result<Event, StoreError> {
    decode(item)
}

/// Stores an event once: the first write wins and bumps the counters in the same atomic
/// write, so a redelivered event never counts twice. Returns whether it was new.
pub async fn insert(
    store: &dyn ItemStore,
    tenant: &TenantId,
    e: &Event,
) -> Result<bool, StoreError> {
    let stats = storage_keys::stats_pk(tenant);
    let ops = vec![
        WriteOp::put(to_item(tenant, e)?, Condition::NotExists),
        WriteOp::add(&stats, counter::EVENTS, 1),
        WriteOp::add(&stats, counter::events_day(e.timestamp), 1),
        WriteOp::add(&stats, counter::events_hour(e.timestamp), 1),
        WriteOp::add(&stats, counter::events_type(e.event_type.as_str()), 1),
        WriteOp::add(&stats, counter::user_events(&e.user), 1),
    ];
    match store.write(ops).await {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed { op: 0 }) => Ok(false),
        Err(e) => Err(e),
    }
}

pub async fn get(
    store: &dyn ItemStore,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<Event>, StoreError> {
    get_with(
        store,
        &storage_keys::event_pk(tenant, id),
        storage_keys::EVENT_SK,
        from_item,
    )
    .await
}

/// A user's events in `[from, to]`, oldest first, at most `cap`.
pub async fn user_window(
    store: &dyn ItemStore,
    tenant: &TenantId,
    user: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    cap: usize,
) -> Result<Vec<Event>, StoreError> {
    let (a, b) = storage_keys::time_bounds(Some(from), Some(to)).unwrap_or_default();
    let mut q = Query::new(Index::Gsi2, storage_keys::events_by_user(tenant, user))
        .range(KeyRange::Between(a, b))
        .limit(cap.min(1000));
    let mut out = Vec::new();
    loop {
        let page = store.query(&q).await?;
        for item in &page.items {
            out.push(from_item(item)?);
        }
        match page.next {
            Some(next) if out.len() < cap => q.after = Some(next),
            _ => break,
        }
    }
    out.truncate(cap);
    Ok(out)
}

/// Events the tenant recorded in the calendar hour of `at`.
pub async fn hour_count(
    store: &dyn ItemStore,
    tenant: &TenantId,
    at: DateTime<Utc>,
) -> Result<u64, StoreError> {
    Ok(store
        .get(&storage_keys::stats_pk(tenant), &counter::events_hour(at))
        .await?
        .map(|i| u64::try_from(i.count).unwrap_or_default())
        .unwrap_or_default())
}

/// The query behind [`list`]: the most selective index, newest first.
pub fn list_query(tenant: &TenantId, filter: &EventFilter) -> Query {
    let (index, pk) = match (&filter.user, &filter.event_type) {
        (Some(u), _) => (Index::Gsi2, storage_keys::events_by_user(tenant, u)),
        (None, Some(t)) => (Index::Gsi3, storage_keys::events_by_type(tenant, t)),
        (None, None) => (Index::Gsi1, storage_keys::events_by_time(tenant)),
    };
    Query::new(index, pk)
        .range(storage_keys::time_range(filter.from, filter.to))
        .newest_first()
}

/// Newest first; filters what the index does not cover in memory.
pub async fn list(
    store: &dyn ItemStore,
    tenant: &TenantId,
    filter: &EventFilter,
    limit: usize,
    after: Option<crate::ports::Cursor>,
) -> Result<Filtered, StoreError> {
    let q = list_query(tenant, filter).after(after);
    query_filtered(store, q, limit, 5_000, |item| {
        field_is(item, "event_type", filter.event_type.as_deref())
            && field_is(item, "source", filter.source.as_deref())
    })
    .await
}
