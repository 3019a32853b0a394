//! Stored log sources, when each last received a record, their per-type counts and
//! the dead letters of their queues. Every key starts with the tenant id.
use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::item::{decode, encode, get_with};
use super::page::collect_all;
use super::storage_keys::{self, sources as sk};
use super::webhooks::Versioned;
use crate::domain::TenantId;
use crate::ports::store::{
    Condition, Index, Item, ItemStore, KeyRange, MAX_WRITE_OPS, Query, StoreError, WriteOp,
};
use crate::retry::on_conflict;
use crate::sources::Source;

/// Dead letters are kept this long.
pub const DEAD_LETTER_TTL_DAYS: i64 = 14;

fn item(s: &Source, version: u64) -> Result<Item, StoreError> {
    let mut i = Item::new(sk::pk(&s.tenant), &s.id, encode(s)?);
    i.version = version;
    Ok(i)
}

fn from(i: &Item) -> Result<Versioned<Source>, StoreError> {
    Ok(Versioned {
        value: decode(i)?,
        version: i.version,
    })
}

pub fn create_op(s: &Source) -> Result<WriteOp, StoreError> {
    Ok(WriteOp::put(item(s, 1)?, Condition::NotExists))
}

pub fn replace_op(s: &Source, read_version: u64) -> Result<WriteOp, StoreError> {
    Ok(WriteOp::put(
        item(s, read_version + 1)?,
        Condition::Version(read_version),
    ))
}

pub async fn get(
    store: &dyn ItemStore,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<Versioned<Source>>, StoreError> {
    if !id.starts_with(sk::SOURCE_PREFIX) {
        return Ok(None);
    }
    get_with(store, &sk::pk(tenant), id, from).await
}

/// Every source of a tenant (a tenant has few).
pub async fn list(store: &dyn ItemStore, tenant: &TenantId) -> Result<Vec<Source>, StoreError> {
    let q = Query::new(Index::Primary, sk::pk(tenant))
        .range(KeyRange::Prefix(sk::SOURCE_PREFIX.into()))
        .limit(500);
    collect_all(store, q, |i| Ok(from(i)?.value)).await
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seen {
    pub last_received_at: DateTime<Utc>,
    pub last_event_id: String,
}

/// Moves a source's last-received marker forward to `at` (never back), so the answer
/// is the latest receipt whatever order batches are stored in.
pub async fn mark_seen(
    store: &dyn ItemStore,
    tenant: &TenantId,
    id: &str,
    at: DateTime<Utc>,
    event_id: &str,
) -> Result<(), StoreError> {
    let pk = sk::pk(tenant);
    let sort = sk::seen_sk(id);
    let (pk, sort) = (&pk, &sort);
    on_conflict(move || async move {
        let current = store.get(pk, sort).await?;
        let (version, prior) = match &current {
            Some(i) => (i.version, Some(decode::<Seen>(i)?)),
            None => (0, None),
        };
        if prior.as_ref().is_some_and(|p| p.last_received_at >= at) {
            return Ok(());
        }
        let seen = Seen {
            last_received_at: at,
            last_event_id: event_id.to_string(),
        };
        let mut item = Item::new(pk.clone(), sort.clone(), encode(&seen)?);
        item.version = version + 1;
        let condition = if version == 0 {
            Condition::NotExists
        } else {
            Condition::Version(version)
        };
        store.write(vec![WriteOp::put(item, condition)]).await
    })
    .await
}

pub async fn seen(
    store: &dyn ItemStore,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<Seen>, StoreError> {
    get_with(store, &sk::pk(tenant), &sk::seen_sk(id), decode).await
}

/// A source's stored events by type (counted once per event, in the event's write).
pub async fn counts(
    store: &dyn ItemStore,
    tenant: &TenantId,
    id: &str,
) -> Result<BTreeMap<String, i64>, StoreError> {
    let prefix = sk::type_counter_prefix(id);
    let q = Query::new(Index::Primary, storage_keys::stats_pk(tenant))
        .range(KeyRange::Prefix(prefix.clone()))
        .limit(1000);
    let rows = collect_all(store, q, |i| {
        Ok((
            i.sk.trim_start_matches(prefix.as_str()).to_string(),
            i.count,
        ))
    })
    .await?;
    Ok(rows.into_iter().filter(|(_, n)| *n > 0).collect())
}

/// How long a dropped record's marker is kept: a redelivery within it (SQS keeps a
/// message at most 14 days) is not counted again.
pub const DROPPED_MARKER_TTL_DAYS: i64 = 14;

/// Counts records `id` dropped as unmapped (their dedup keys), once per record: each
/// fresh key's marker goes in the same atomic write as the counter's increment, so a
/// redelivered message or a retried push counts nothing twice. Returns how many were
/// new.
pub async fn count_dropped(
    store: &dyn ItemStore,
    tenant: &TenantId,
    id: &str,
    keys: &[String],
    at: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut seen = std::collections::HashSet::with_capacity(keys.len());
    let unique: Vec<&String> = keys.iter().filter(|k| seen.insert(*k)).collect();
    if unique.is_empty() {
        return Ok(0);
    }
    let pk = sk::dropped_pk(tenant, id);
    let lookups: Vec<(String, String)> =
        unique.iter().map(|k| (pk.clone(), (*k).clone())).collect();
    let stored = store.exist(&lookups).await?;
    let fresh: Vec<&String> = unique
        .into_iter()
        .zip(stored)
        .filter(|(_, s)| !s)
        .map(|(k, _)| k)
        .collect();
    let mut counted = 0;
    for chunk in fresh.chunks(MAX_WRITE_OPS - 1) {
        counted += write_dropped(store, tenant, id, &pk, chunk, at).await?;
    }
    Ok(counted)
}

async fn write_dropped(
    store: &dyn ItemStore,
    tenant: &TenantId,
    id: &str,
    pk: &str,
    chunk: &[&String],
    at: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let ttl = (at + Duration::days(DROPPED_MARKER_TTL_DAYS)).timestamp();
    let mut ops: Vec<WriteOp> = chunk
        .iter()
        .map(|k| {
            let mut i = Item::new(pk, k.as_str(), serde_json::json!({"at": at}));
            i.ttl = Some(ttl);
            WriteOp::put(i, Condition::NotExists)
        })
        .collect();
    ops.push(WriteOp::add(
        storage_keys::stats_pk(tenant),
        sk::dropped_counter(id),
        chunk.len() as i64,
    ));
    match store.write(ops).await {
        Ok(()) => Ok(chunk.len()),
        // Another delivery counted one of them first: one by one.
        Err(StoreError::ConditionFailed { .. }) if chunk.len() > 1 => {
            let mut n = 0;
            for k in chunk {
                n += Box::pin(write_dropped(store, tenant, id, pk, &[*k], at)).await?;
            }
            Ok(n)
        }
        Err(StoreError::ConditionFailed { .. }) => Ok(0),
        Err(e) => Err(e),
    }
}

/// How many records a source has dropped as unmapped.
pub async fn dropped(
    store: &dyn ItemStore,
    tenant: &TenantId,
    id: &str,
) -> Result<i64, StoreError> {
    Ok(get_with(
        store,
        &storage_keys::stats_pk(tenant),
        &sk::dropped_counter(id),
        |i| Ok(i.count),
    )
    .await?
    .unwrap_or(0))
}

/// A message of a source queue that could not be used, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub message_id: String,
    pub at: DateTime<Utc>,
    pub reason: String,
    /// The message body's first bytes, for finding it.
    pub excerpt: String,
}

/// Records a dead letter once per message id (a redelivered message is one entry).
pub async fn record_dead_letter(
    store: &dyn ItemStore,
    tenant: &TenantId,
    id: &str,
    d: &DeadLetter,
) -> Result<(), StoreError> {
    let mut i = Item::new(sk::dead_letters_pk(tenant, id), &d.message_id, encode(d)?);
    i.ttl = Some((d.at + Duration::days(DEAD_LETTER_TTL_DAYS)).timestamp());
    match store
        .write(vec![WriteOp::put(i, Condition::NotExists)])
        .await
    {
        Ok(()) | Err(StoreError::ConditionFailed { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// A source's most recent dead letters, newest first.
pub async fn dead_letters(
    store: &dyn ItemStore,
    tenant: &TenantId,
    id: &str,
    limit: usize,
) -> Result<Vec<DeadLetter>, StoreError> {
    let q = Query::new(Index::Primary, sk::dead_letters_pk(tenant, id)).limit(500);
    let mut all: Vec<DeadLetter> = collect_all(store, q, decode).await?;
    all.sort_by(|a, b| {
        b.at.cmp(&a.at)
            .then_with(|| a.message_id.cmp(&b.message_id))
    });
    all.truncate(limit);
    Ok(all)
}
