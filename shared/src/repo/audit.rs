//! Stored audit ledger: entries, chain head, checkpoints and counters, all under the
//! tenant's keys (see `storage_keys::audit`). What is done with them (verification, proofs,
//! export, state at a time) lives in `audit::ledger`.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::item::{decode, encode};
use super::page::{Filtered, collect_all, for_each_item, query_filtered};
use super::storage_keys::audit as k;
use crate::audit::checkpoint::Checkpoint;
use crate::audit::entry::{AuditDraft, AuditEntry, GENESIS_HASH, decode_hash};
use crate::audit::ledger::Verification;
use crate::audit::merkle::Hash;
use crate::audit::verify::StoredEntry;
use crate::audit::{AuditError, Break};
use crate::domain::TenantId;
use crate::ports::store::{
    Condition, Cursor, Index, IndexKey, Item, ItemStore, KeyRange, Query, StoreError, WriteOp,
};

/// Ops that [`prepare`] adds to a write.
pub const OPS_PER_ENTRY: usize = 5;

pub(crate) fn malformed(e: impl std::fmt::Display) -> StoreError {
    StoreError::Malformed(e.to_string())
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct HeadData {
    seq: u64,
    hash: String,
    #[serde(default)]
    at: Option<DateTime<Utc>>,
}

/// The chain head as stored, with the version its next update must match.
#[derive(Debug, Clone)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
    pub at: Option<DateTime<Utc>>,
    pub version: u64,
}

pub async fn head(store: &dyn ItemStore, tenant: &TenantId) -> Result<Option<Head>, StoreError> {
    let Some(item) = store.get(&k::ledger_pk(tenant), k::HEAD_SK).await? else {
        return Ok(None);
    };
    let d: HeadData = serde_json::from_value(item.data).map_err(malformed)?;
    Ok(Some(Head {
        seq: d.seq,
        hash: d.hash,
        at: d.at,
        version: item.version,
    }))
}

/// The next entry and the ops that append it.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub ops: Vec<WriteOp>,
    pub entry: AuditEntry,
}

fn entry_item(tenant: &TenantId, e: &AuditEntry) -> Result<Item, StoreError> {
    let sk = k::entry_sk(e.seq);
    let mut item = Item::new(k::ledger_pk(tenant), &sk, encode(e)?);
    item.gsi1 = Some(IndexKey::new(k::by_actor(tenant, e.actor.as_str()), &sk));
    item.gsi2 = Some(IndexKey::new(
        k::by_resource(tenant, &e.resource_type, &e.resource_id),
        &sk,
    ));
    item.gsi3 = Some(IndexKey::new(k::by_action(tenant, &e.action), &sk));
    Ok(item)
}

/// Reads the chain head and returns the ops appending `draft` after it. Entry times never
/// go backwards, so time filters can rely on sequence order.
pub async fn prepare(
    store: &dyn ItemStore,
    tenant: &TenantId,
    draft: &AuditDraft,
    now: DateTime<Utc>,
) -> Result<Prepared, StoreError> {
    let current = head(store, tenant).await?;
    let (seq, prev, at, condition, version) = match &current {
        None => (1, GENESIS_HASH.to_string(), now, Condition::NotExists, 1),
        Some(h) => (
            h.seq + 1,
            h.hash.clone(),
            h.at.map_or(now, |t| t.max(now)),
            Condition::Version(h.version),
            h.version + 1,
        ),
    };
    let entry = AuditEntry::seal(tenant, draft, seq, at, &prev);
    let data = HeadData {
        seq,
        hash: entry.hash.clone(),
        at: Some(entry.at),
    };
    let mut head_item = Item::new(k::ledger_pk(tenant), k::HEAD_SK, encode(&data)?);
    head_item.version = version;
    head_item.gsi1 = Some(IndexKey::new(k::HEADS_INDEX, tenant.as_str()));
    let stats = k::stats_pk(tenant);
    let ops = vec![
        WriteOp::put(head_item, condition),
        WriteOp::put(entry_item(tenant, &entry)?, Condition::NotExists),
        WriteOp::add(&stats, format!("action#{}", entry.action), 1),
        WriteOp::add(&stats, format!("actor#{}", entry.actor), 1),
        WriteOp::add(&stats, format!("day#{}", entry.at.format("%Y-%m-%d")), 1),
    ];
    Ok(Prepared { ops, entry })
}

/// Appends an entry on its own (no action ops), retrying lost races for the head.
pub async fn append(
    store: &dyn ItemStore,
    tenant: &TenantId,
    draft: &AuditDraft,
    now: DateTime<Utc>,
) -> Result<AuditEntry, StoreError> {
    crate::retry::on_conflict(move || async move {
        let p = prepare(store, tenant, draft, now).await?;
        store.write(p.ops).await?;
        Ok(p.entry)
    })
    .await
}

fn stored(item: &Item) -> Option<StoredEntry> {
    let key_seq = k::seq_of(&item.sk)?;
    Some(StoredEntry {
        key_seq,
        entry: serde_json::from_value(item.data.clone()).map_err(|e| e.to_string()),
    })
}

/// Stored entries `from..=to` in sequence order, as found (not yet verified).
pub async fn read_range(
    store: &dyn ItemStore,
    tenant: &TenantId,
    from: u64,
    to: u64,
) -> Result<Vec<StoredEntry>, StoreError> {
    let mut out = Vec::new();
    if to < from {
        return Ok(out);
    }
    let q = Query::new(Index::Primary, k::ledger_pk(tenant))
        .range(KeyRange::Between(k::entry_sk(from), k::entry_sk(to)))
        .limit(1000);
    for_each_item(store, q, |item| {
        out.extend(stored(&item));
        Ok(())
    })
    .await?;
    Ok(out)
}

/// Stored leaf hashes of entries 1..=size; an entry that is missing or unreadable makes
/// proofs impossible and is reported as a break.
pub(crate) async fn leaves(
    store: &dyn ItemStore,
    tenant: &TenantId,
    size: u64,
) -> Result<Vec<Hash>, AuditError> {
    let entries = read_range(store, tenant, 1, size).await?;
    let mut out = Vec::with_capacity(entries.len());
    for (i, s) in entries.iter().enumerate() {
        let expected = i as u64 + 1;
        let hash = s
            .entry
            .as_ref()
            .ok()
            .filter(|e| s.key_seq == expected && e.seq == expected)
            .and_then(|e| decode_hash(&e.hash));
        match hash {
            Some(h) => out.push(h),
            None => {
                return Err(AuditError::Broken(Box::new(Break {
                    kind: crate::audit::BreakKind::Modified,
                    seq: expected,
                    detail: format!("entry {expected} cannot be read; run a verification"),
                })));
            }
        }
    }
    if (out.len() as u64) < size {
        return Err(AuditError::Broken(Box::new(Break {
            kind: crate::audit::BreakKind::Deleted,
            seq: out.len() as u64 + 1,
            detail: "the log has fewer entries than its head records".into(),
        })));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Listing

#[derive(Debug, Clone, Default)]
pub struct EntryFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// The query behind [`list`]: the most selective index, newest first.
pub fn list_query(tenant: &TenantId, f: &EntryFilter) -> Query {
    let (index, pk) = match (&f.resource_type, &f.resource_id, &f.actor, &f.action) {
        (Some(t), Some(id), _, _) => (Index::Gsi2, k::by_resource(tenant, t, id)),
        (_, _, Some(a), _) => (Index::Gsi1, k::by_actor(tenant, a)),
        (_, _, _, Some(a)) => (Index::Gsi3, k::by_action(tenant, a)),
        _ => (Index::Primary, k::ledger_pk(tenant)),
    };
    let range = if index == Index::Primary {
        KeyRange::Prefix(k::ENTRY_PREFIX.into())
    } else {
        KeyRange::All
    };
    Query::new(index, pk).range(range).newest_first()
}

pub async fn list(
    store: &dyn ItemStore,
    tenant: &TenantId,
    filter: &EntryFilter,
    limit: usize,
    after: Option<Cursor>,
) -> Result<(Vec<AuditEntry>, Option<Cursor>), StoreError> {
    let q = list_query(tenant, filter).after(after);
    let f = filter.clone();
    let Filtered { items, next } = query_filtered(store, q, limit, 20_000, move |item| {
        let Ok(e) = serde_json::from_value::<AuditEntry>(item.data.clone()) else {
            return true;
        };
        f.actor.as_deref().is_none_or(|a| e.actor.as_str() == a)
            && f.action.as_deref().is_none_or(|a| e.action == a)
            && f.resource_type
                .as_deref()
                .is_none_or(|t| e.resource_type == t)
            && f.resource_id.as_deref().is_none_or(|i| e.resource_id == i)
            && f.from.is_none_or(|t| e.at >= t)
            && f.to.is_none_or(|t| e.at <= t)
    })
    .await?;
    let entries = items
        .iter()
        .map(|i| serde_json::from_value(i.data.clone()).map_err(malformed))
        .collect::<Result<Vec<AuditEntry>, _>>()?;
    Ok((entries, next))
}

// ---------------------------------------------------------------------------------------
// Checkpoints

fn checkpoint_from(item: &Item) -> Result<Checkpoint, StoreError> {
    decode(item)
}

pub async fn latest_checkpoint(
    store: &dyn ItemStore,
    tenant: &TenantId,
) -> Result<Option<Checkpoint>, StoreError> {
    let q = Query::new(Index::Primary, k::checkpoints_pk(tenant))
        .newest_first()
        .limit(1);
    store
        .query(&q)
        .await?
        .items
        .first()
        .map(checkpoint_from)
        .transpose()
}

pub async fn checkpoints(
    store: &dyn ItemStore,
    tenant: &TenantId,
    max_size: u64,
) -> Result<Vec<Checkpoint>, StoreError> {
    let q = Query::new(Index::Primary, k::checkpoints_pk(tenant))
        .range(KeyRange::Between(
            k::checkpoint_sk(0),
            k::checkpoint_sk(max_size),
        ))
        .limit(1000);
    collect_all(store, q, checkpoint_from).await
}

/// Tenant ids whose ledger has entries (from the heads index).
pub async fn ledgers(store: &dyn ItemStore) -> Result<Vec<TenantId>, StoreError> {
    let q = Query::new(Index::Gsi1, k::HEADS_INDEX).limit(500);
    let mut out = Vec::new();
    for_each_item(store, q, |i| {
        out.extend(i.gsi1.as_ref().and_then(|g| TenantId::parse(&g.sk).ok()));
        Ok(())
    })
    .await?;
    Ok(out)
}

#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub chain_length: u64,
    pub head_hash: Option<String>,
    pub by_action: BTreeMap<String, i64>,
    pub by_actor: BTreeMap<String, i64>,
    pub by_day: BTreeMap<String, i64>,
    pub latest_checkpoint: Option<Checkpoint>,
    pub last_verification: Option<Verification>,
}

pub async fn stats(store: &dyn ItemStore, tenant: &TenantId) -> Result<Stats, StoreError> {
    let q = Query::new(Index::Primary, k::stats_pk(tenant)).limit(1000);
    let (mut by_action, mut by_actor, mut by_day) =
        (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    for_each_item(store, q, |i| {
        let (map, key) = if let Some(x) = i.sk.strip_prefix("action#") {
            (&mut by_action, x)
        } else if let Some(x) = i.sk.strip_prefix("actor#") {
            (&mut by_actor, x)
        } else if let Some(x) = i.sk.strip_prefix("day#") {
            (&mut by_day, x)
        } else {
            return Ok(());
        };
        map.insert(key.to_string(), i.count);
        Ok(())
    })
    .await?;
    let h = head(store, tenant).await?;
    let last_verification = match store.get(&k::ledger_pk(tenant), k::VERIFIED_SK).await? {
        Some(i) => Some(serde_json::from_value(i.data).map_err(malformed)?),
        None => None,
    };
    Ok(Stats {
        chain_length: h.as_ref().map_or(0, |h| h.seq),
        head_hash: h.map(|h| h.hash),
        by_action,
        by_actor,
        by_day,
        latest_checkpoint: latest_checkpoint(store, tenant).await?,
        last_verification,
    })
}
