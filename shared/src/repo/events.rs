//! Stored events and the counters kept with them.
use chrono::{DateTime, Utc};

use super::item::{decode, get_with};
use super::page::{Filtered, field_is, query_filtered};
use super::storage_keys::{self, counter};
use crate::domain::{Event, TenantId};
use crate::ports::store::{
    Condition, Index, IndexKey, Item, ItemStore, KeyRange, MAX_WRITE_OPS, Query, StoreError,
    WriteOp,
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

/// The source a normalized event came from (`raw_data.source_id`), if any.
pub fn source_id(e: &Event) -> Option<&str> {
    e.source.as_ref()?;
    e.raw_str(&["source_id"])
        .filter(|id| id.starts_with(storage_keys::sources::SOURCE_PREFIX))
}

/// The counter keys one event moves: the tenant's, and its source's count by type.
fn counter_keys(e: &Event) -> Vec<String> {
    let mut keys = vec![
        counter::EVENTS.to_string(),
        counter::events_day(e.timestamp),
        counter::events_minute(crate::rules::volume::minute_of(e.timestamp)),
        counter::events_type(e.event_type.as_str()),
        counter::user_events(&e.user),
    ];
    if let Some(id) = source_id(e) {
        keys.push(storage_keys::sources::type_counter(
            id,
            e.event_type.as_str(),
        ));
    }
    keys
}

/// Stores each event once: the first write wins and bumps the counters in the same
/// atomic write, so a redelivered event never counts twice. Events go in as few writes
/// as the store's batch limit allows, counters summed per write. Returns the events
/// that were new.
pub async fn insert_batch<'a>(
    store: &dyn ItemStore,
    tenant: &TenantId,
    events: &'a [Event],
) -> Result<Vec<&'a Event>, StoreError> {
    let keys: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                storage_keys::event_pk(tenant, &e.id),
                storage_keys::EVENT_SK.to_string(),
            )
        })
        .collect();
    let stored = store.exist(&keys).await?;
    let mut seen = std::collections::HashSet::new();
    let fresh: Vec<&Event> = events
        .iter()
        .zip(stored)
        .filter(|(e, stored)| !stored && seen.insert(e.id.as_str()))
        .map(|(e, _)| e)
        .collect();
    let mut inserted = Vec::with_capacity(fresh.len());
    let mut chunk: Vec<&Event> = Vec::new();
    let mut counters: std::collections::BTreeMap<String, i64> = Default::default();
    for e in fresh {
        let keys = counter_keys(e);
        let new_keys = keys.iter().filter(|k| !counters.contains_key(*k)).count();
        if chunk.len() + 1 + counters.len() + new_keys > MAX_WRITE_OPS {
            inserted
                .extend(write_chunk(store, tenant, &chunk, std::mem::take(&mut counters)).await?);
            chunk.clear();
        }
        for k in keys {
            *counters.entry(k).or_default() += 1;
        }
        chunk.push(e);
    }
    if !chunk.is_empty() {
        inserted.extend(write_chunk(store, tenant, &chunk, counters).await?);
    }
    Ok(inserted)
}

/// One atomic write of new events and their summed counters. Should another writer
/// store one of them first (a concurrent redelivery), the chunk goes in event by event.
async fn write_chunk<'a>(
    store: &dyn ItemStore,
    tenant: &TenantId,
    chunk: &[&'a Event],
    counters: std::collections::BTreeMap<String, i64>,
) -> Result<Vec<&'a Event>, StoreError> {
    let stats = storage_keys::stats_pk(tenant);
    let mut ops = Vec::with_capacity(chunk.len() + counters.len());
    for e in chunk {
        ops.push(WriteOp::put(to_item(tenant, e)?, Condition::NotExists));
    }
    ops.extend(
        counters
            .into_iter()
            .map(|(k, d)| WriteOp::add(&stats, k, d)),
    );
    match store.write(ops).await {
        Ok(()) => Ok(chunk.to_vec()),
        Err(StoreError::ConditionFailed { .. }) if chunk.len() > 1 => {
            let mut out = Vec::new();
            for e in chunk {
                let mut one = std::collections::BTreeMap::new();
                for k in counter_keys(e) {
                    one.insert(k, 1);
                }
                match Box::pin(write_chunk(store, tenant, &[*e], one)).await {
                    Ok(v) => out.extend(v),
                    Err(err) => return Err(err),
                }
            }
            Ok(out)
        }
        Err(StoreError::ConditionFailed { .. }) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Stores one event once (see [`insert_batch`]); whether it was new.
pub async fn insert(
    store: &dyn ItemStore,
    tenant: &TenantId,
    e: &Event,
) -> Result<bool, StoreError> {
    Ok(!insert_batch(store, tenant, std::slice::from_ref(e))
        .await?
        .is_empty())
}

/// Events per minute of event time in `[from, to]` (unix minutes), from the counters.
pub async fn minute_counts(
    store: &dyn ItemStore,
    tenant: &TenantId,
    from: i64,
    to: i64,
) -> Result<std::collections::BTreeMap<i64, u64>, StoreError> {
    let q = Query::new(Index::Primary, storage_keys::stats_pk(tenant))
        .range(KeyRange::Between(
            counter::events_minute(from),
            counter::events_minute(to),
        ))
        .limit(1000);
    let pairs = super::page::collect_all(store, q, |i| {
        Ok((
            counter::minute_of_key(&i.sk),
            u64::try_from(i.count).unwrap_or_default(),
        ))
    })
    .await?;
    Ok(pairs
        .into_iter()
        .filter_map(|(m, c)| m.map(|m| (m, c)))
        .collect())
}

/// The ids of the earliest `cap` events (by time, then id) in `minutes` (unix minutes).
pub async fn earliest_in_minutes(
    store: &dyn ItemStore,
    tenant: &TenantId,
    minutes: &std::collections::BTreeSet<i64>,
    cap: usize,
) -> Result<Vec<String>, StoreError> {
    use crate::rules::volume::{minute_of, minute_start};
    let mut out = Vec::new();
    for &m in minutes {
        let (a, b) = storage_keys::time_bounds(
            Some(minute_start(m)),
            Some(minute_start(m + 1) - chrono::Duration::milliseconds(1)),
        )
        .unwrap_or_default();
        let q = Query::new(Index::Gsi1, storage_keys::events_by_time(tenant))
            .range(KeyRange::Between(a, b))
            .limit(cap - out.len());
        let page = store.query(&q).await?;
        for item in &page.items {
            let e = from_item(item)?;
            if minute_of(e.timestamp) == m {
                out.push(e.id);
            }
        }
        if out.len() >= cap {
            out.truncate(cap);
            break;
        }
    }
    Ok(out)
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

/// Reads in flight at once for [`get_many`].
const GET_MANY_CONCURRENCY: usize = 16;

/// The stored events among `ids`, in their order (ids no longer stored are left out),
/// read a few at a time: a finding's evidence, say.
pub async fn get_many(
    store: &dyn ItemStore,
    tenant: &TenantId,
    ids: &[String],
) -> Result<Vec<Event>, StoreError> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(GET_MANY_CONCURRENCY) {
        let got =
            futures::future::try_join_all(chunk.iter().map(|id| get(store, tenant, id))).await?;
        out.extend(got.into_iter().flatten());
    }
    Ok(out)
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
