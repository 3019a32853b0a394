//! Stored audit ledger: entries, chain head, checkpoints and counters, all under the
//! tenant's keys (see `keys::audit`).
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use super::keys::audit as k;
use super::page::{Filtered, query_filtered};
use crate::audit::checkpoint::{Checkpoint, CheckpointSigner};
use crate::audit::entry::{AuditDraft, AuditEntry, GENESIS_HASH, decode_hash};
use crate::audit::merkle::{self, Hash, Tree};
use crate::audit::verify::{self, HeadState, Report, StoredEntry, VerifyInput};
use crate::audit::{AuditError, Break};
use crate::domain::TenantId;
use crate::ports::store::{
    Condition, Cursor, Index, IndexKey, Item, ItemStore, KeyRange, Query, StoreError, WriteOp,
};

/// Ops that [`prepare`] adds to a write.
pub const OPS_PER_ENTRY: usize = 5;

fn malformed(e: impl std::fmt::Display) -> StoreError {
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
    let mut item = Item::new(
        k::ledger_pk(tenant),
        &sk,
        serde_json::to_value(e).map_err(malformed)?,
    );
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
    let mut head_item = Item::new(
        k::ledger_pk(tenant),
        k::HEAD_SK,
        serde_json::to_value(&data).map_err(malformed)?,
    );
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
    let mut q = Query::new(Index::Primary, k::ledger_pk(tenant))
        .range(KeyRange::Between(k::entry_sk(from), k::entry_sk(to)))
        .limit(1000);
    loop {
        let page = store.query(&q).await?;
        out.extend(page.items.iter().filter_map(stored));
        match page.next {
            Some(n) => q.after = Some(n),
            None => return Ok(out),
        }
    }
}

/// Stored leaf hashes of entries 1..=size; an entry that is missing or unreadable makes
/// proofs impossible and is reported as a break.
async fn leaves(
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
    serde_json::from_value(item.data.clone()).map_err(malformed)
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
    let mut q = Query::new(Index::Primary, k::checkpoints_pk(tenant))
        .range(KeyRange::Between(
            k::checkpoint_sk(0),
            k::checkpoint_sk(max_size),
        ))
        .limit(1000);
    let mut out = Vec::new();
    loop {
        let page = store.query(&q).await?;
        for i in &page.items {
            out.push(checkpoint_from(i)?);
        }
        match page.next {
            Some(n) => q.after = Some(n),
            None => return Ok(out),
        }
    }
}

/// Signs the current tree after verifying the whole log against the earlier
/// checkpoints; a broken log is never signed. Returns the latest checkpoint unchanged
/// when nothing was appended since.
pub async fn create_checkpoint(
    store: &dyn ItemStore,
    tenant: &TenantId,
    signer: &CheckpointSigner,
    now: DateTime<Utc>,
) -> Result<Checkpoint, AuditError> {
    let Some(h) = head(store, tenant).await? else {
        return Err(AuditError::Empty);
    };
    if let Some(latest) = latest_checkpoint(store, tenant).await? {
        if latest.tree_size >= h.seq {
            return Ok(latest);
        }
    }
    let report = verify_range(store, tenant, None, None, Some(&signer.verifying_key())).await?;
    if let Some(b) = report.first_break {
        return Err(AuditError::Broken(Box::new(b)));
    }
    let root = merkle::root(&report.leaves);
    let cp = signer.sign(tenant, report.to, &root, now);
    let item = Item::new(
        k::checkpoints_pk(tenant),
        k::checkpoint_sk(cp.tree_size),
        serde_json::to_value(&cp).map_err(malformed)?,
    );
    match store
        .write(vec![WriteOp::put(item, Condition::NotExists)])
        .await
    {
        Ok(()) => Ok(cp),
        // Another checkpointer signed the same size first: theirs stands.
        Err(StoreError::ConditionFailed { .. }) => latest_checkpoint(store, tenant)
            .await?
            .ok_or(AuditError::Busy),
        Err(e) => Err(e.into()),
    }
}

/// Tenant ids whose ledger has entries (from the heads index).
pub async fn ledgers(store: &dyn ItemStore) -> Result<Vec<TenantId>, StoreError> {
    let mut q = Query::new(Index::Gsi1, k::HEADS_INDEX).limit(500);
    let mut out = Vec::new();
    loop {
        let page = store.query(&q).await?;
        for i in &page.items {
            if let Some(t) = i.gsi1.as_ref().and_then(|g| TenantId::parse(&g.sk).ok()) {
                out.push(t);
            }
        }
        match page.next {
            Some(n) => q.after = Some(n),
            None => return Ok(out),
        }
    }
}

/// Checkpoints every ledger that grew since its last checkpoint (the periodic job).
/// Returns (tenant, result) per ledger visited.
pub async fn checkpoint_all(
    store: &dyn ItemStore,
    signer: &CheckpointSigner,
    now: DateTime<Utc>,
) -> Result<Vec<(TenantId, Result<Checkpoint, AuditError>)>, StoreError> {
    let mut out = Vec::new();
    for t in ledgers(store).await? {
        let r = create_checkpoint(store, &t, signer, now).await;
        out.push((t, r));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Verification

/// Verifies entries `from..=to` (default: the whole log). From 1, every stored checkpoint
/// up to `to` is checked too; to the end of the log, the chain head as well.
pub async fn verify_range(
    store: &dyn ItemStore,
    tenant: &TenantId,
    from: Option<u64>,
    to: Option<u64>,
    trusted: Option<&VerifyingKey>,
) -> Result<Report, AuditError> {
    let h = head(store, tenant).await?;
    let head_seq = h.as_ref().map_or(0, |h| h.seq);
    let from = from.unwrap_or(1).max(1);
    // Entries past the head are read too, so extra items appended outside the ledger show.
    let to_end = to.is_none_or(|t| t >= head_seq);
    let last = match to {
        Some(t) if t < head_seq => t,
        _ => u64::MAX / 2,
    };
    if from > last {
        return Err(AuditError::OutOfRange(format!(
            "from ({from}) is after to ({last})"
        )));
    }
    let prev_hash = if from == 1 {
        GENESIS_HASH.to_string()
    } else {
        read_range(store, tenant, from - 1, from - 1)
            .await?
            .first()
            .and_then(|s| s.entry.as_ref().ok().map(|e| e.hash.clone()))
            .ok_or_else(|| AuditError::OutOfRange(format!("entry {} does not exist", from - 1)))?
    };
    let entries = read_range(store, tenant, from, last).await?;
    let cps = if from == 1 {
        checkpoints(store, tenant, last).await?
    } else {
        Vec::new()
    };
    let input = VerifyInput {
        tenant,
        entries: &entries,
        from,
        prev_hash,
        head: if to_end {
            Some(HeadState {
                seq: head_seq,
                hash: h.map(|h| h.hash).unwrap_or_default(),
            })
        } else {
            None
        },
        checkpoints: &cps,
        trusted_key: trusted,
    };
    Ok(verify::verify(&input))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verification {
    pub at: DateTime<Utc>,
    pub ok: bool,
    pub from: u64,
    pub to: u64,
    pub checkpoints_checked: u64,
    pub first_break: Option<Break>,
}

/// Remembers the result of a verification for the stats.
pub async fn record_verification(
    store: &dyn ItemStore,
    tenant: &TenantId,
    report: &Report,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let v = Verification {
        at: now,
        ok: report.ok,
        from: report.from,
        to: report.to,
        checkpoints_checked: report.checkpoints_checked,
        first_break: report.first_break.clone(),
    };
    let item = Item::new(
        k::ledger_pk(tenant),
        k::VERIFIED_SK,
        serde_json::to_value(&v).map_err(malformed)?,
    );
    store.write(vec![WriteOp::put(item, Condition::None)]).await
}

// ---------------------------------------------------------------------------------------
// Proofs

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InclusionProof {
    pub seq: u64,
    pub leaf_index: u64,
    pub tree_size: u64,
    pub leaf_hash: String,
    pub root_hash: String,
    pub proof: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConsistencyProof {
    pub from: u64,
    pub to: u64,
    pub first_root: String,
    pub second_root: String,
    pub proof: Vec<String>,
}

fn hexes(v: &[Hash]) -> Vec<String> {
    v.iter().map(hex::encode).collect()
}

async fn head_seq(store: &dyn ItemStore, tenant: &TenantId) -> Result<u64, AuditError> {
    head(store, tenant)
        .await?
        .map(|h| h.seq)
        .ok_or(AuditError::Empty)
}

pub async fn inclusion_proof(
    store: &dyn ItemStore,
    tenant: &TenantId,
    seq: u64,
    tree_size: Option<u64>,
) -> Result<InclusionProof, AuditError> {
    let size = head_seq(store, tenant).await?;
    let tree_size = tree_size.unwrap_or(size);
    if seq == 0 || seq > tree_size || tree_size > size {
        return Err(AuditError::OutOfRange(format!(
            "need 1 <= seq <= tree_size <= {size}"
        )));
    }
    let leaves = leaves(store, tenant, tree_size).await?;
    let tree = Tree::new(leaves);
    let idx = usize::try_from(seq - 1).map_err(|_| AuditError::OutOfRange("seq".into()))?;
    let proof = tree
        .inclusion_proof(idx)
        .ok_or_else(|| AuditError::OutOfRange("seq".into()))?;
    let leaf = tree_leaf(&tree, idx);
    Ok(InclusionProof {
        seq,
        leaf_index: seq - 1,
        tree_size,
        leaf_hash: hex::encode(leaf),
        root_hash: hex::encode(tree.root()),
        proof: hexes(&proof),
    })
}

fn tree_leaf(tree: &Tree, idx: usize) -> Hash {
    tree.leaf(idx).unwrap_or_default()
}

pub async fn consistency_proof(
    store: &dyn ItemStore,
    tenant: &TenantId,
    from: u64,
    to: Option<u64>,
) -> Result<ConsistencyProof, AuditError> {
    let size = head_seq(store, tenant).await?;
    let to = to.unwrap_or(size);
    if from == 0 || from > to || to > size {
        return Err(AuditError::OutOfRange(format!(
            "need 1 <= from <= to <= {size}"
        )));
    }
    let leaves = leaves(store, tenant, to).await?;
    let m = usize::try_from(from).map_err(|_| AuditError::OutOfRange("from".into()))?;
    let proof = merkle::consistency_proof(&leaves, m)
        .ok_or_else(|| AuditError::OutOfRange("from".into()))?;
    Ok(ConsistencyProof {
        from,
        to,
        first_root: hex::encode(merkle::root(&leaves[..m])),
        second_root: hex::encode(merkle::root(&leaves)),
        proof: hexes(&proof),
    })
}

// ---------------------------------------------------------------------------------------
// Export

/// Everything an offline verifier needs for entries `from..=to`: a signed checkpoint
/// covering them, each entry with its inclusion proof against that checkpoint, and
/// consistency proofs from every earlier checkpoint to it.
#[derive(Debug, Clone)]
pub struct Export {
    pub checkpoint: Checkpoint,
    pub entries: Vec<(AuditEntry, Vec<String>)>,
    pub consistency: Vec<(Checkpoint, Vec<String>)>,
}

pub async fn export(
    store: &dyn ItemStore,
    tenant: &TenantId,
    signer: &CheckpointSigner,
    from: Option<u64>,
    to: Option<u64>,
    now: DateTime<Utc>,
) -> Result<Export, AuditError> {
    let cp = create_checkpoint(store, tenant, signer, now).await?;
    let size = cp.tree_size;
    let from = from.unwrap_or(1).max(1);
    let to = to.unwrap_or(size).min(size);
    if from > to {
        return Err(AuditError::OutOfRange(format!(
            "need 1 <= from <= to <= {size}"
        )));
    }
    let leaves = leaves(store, tenant, size).await?;
    let tree = Tree::new(leaves.clone());
    if cp.root() != Some(tree.root()) {
        return Err(AuditError::Broken(Box::new(Break {
            kind: crate::audit::BreakKind::Modified,
            seq: 1,
            detail: "the stored entries no longer match the latest checkpoint".into(),
        })));
    }
    let mut entries = Vec::new();
    for s in read_range(store, tenant, from, to).await? {
        let e = s.entry.map_err(|m| {
            AuditError::Broken(Box::new(Break {
                kind: crate::audit::BreakKind::Modified,
                seq: s.key_seq,
                detail: m,
            }))
        })?;
        let idx = usize::try_from(e.seq - 1).unwrap_or(usize::MAX);
        let proof = tree.inclusion_proof(idx).unwrap_or_default();
        entries.push((e, hexes(&proof)));
    }
    let mut consistency = Vec::new();
    for old in checkpoints(store, tenant, size).await? {
        if old.tree_size == 0 || old.tree_size >= size {
            continue;
        }
        let m = usize::try_from(old.tree_size).unwrap_or(usize::MAX);
        if let Some(p) = merkle::consistency_proof(&leaves, m) {
            consistency.push((old, hexes(&p)));
        }
    }
    Ok(Export {
        checkpoint: cp,
        entries,
        consistency,
    })
}

// ---------------------------------------------------------------------------------------
// Stats and state

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
    let mut q = Query::new(Index::Primary, k::stats_pk(tenant)).limit(1000);
    let (mut by_action, mut by_actor, mut by_day) =
        (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    loop {
        let page = store.query(&q).await?;
        for i in &page.items {
            let (map, key) = if let Some(x) = i.sk.strip_prefix("action#") {
                (&mut by_action, x)
            } else if let Some(x) = i.sk.strip_prefix("actor#") {
                (&mut by_actor, x)
            } else if let Some(x) = i.sk.strip_prefix("day#") {
                (&mut by_day, x)
            } else {
                continue;
            };
            map.insert(key.to_string(), i.count);
        }
        match page.next {
            Some(n) => q.after = Some(n),
            None => break,
        }
    }
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

/// A resource as the log shows it after entry `at_seq` (default: now).
#[derive(Debug, Clone, Serialize)]
pub struct ResourceState {
    pub resource_type: String,
    pub resource_id: String,
    pub at_seq: u64,
    /// False when the resource did not exist then (never recorded, or deleted).
    pub exists: bool,
    pub state: Option<serde_json::Value>,
    /// The entry the state comes from: the last change up to `at_seq` (its `after`), or
    /// when there is none the first change after it (its `before`).
    pub source_entry: Option<AuditEntry>,
    /// Whether that entry's fields still match its hash.
    pub entry_intact: bool,
    /// Number of recorded changes up to `at_seq`.
    pub changes: u64,
}

pub async fn state_at(
    store: &dyn ItemStore,
    tenant: &TenantId,
    resource_type: &str,
    resource_id: &str,
    at_seq: Option<u64>,
) -> Result<ResourceState, AuditError> {
    let size = head(store, tenant).await?.map_or(0, |h| h.seq);
    let at_seq = at_seq.unwrap_or(size).min(size);
    let mut q = Query::new(
        Index::Gsi2,
        k::by_resource(tenant, resource_type, resource_id),
    )
    .range(KeyRange::Between(k::entry_sk(1), k::entry_sk(at_seq)))
    .limit(1000);
    let mut last = None;
    let mut changes = 0u64;
    loop {
        let page = store.query(&q).await?;
        for i in &page.items {
            changes += 1;
            last = Some(i.data.clone());
        }
        match page.next {
            Some(n) => q.after = Some(n),
            None => break,
        }
    }
    let last: Option<AuditEntry> = last
        .map(serde_json::from_value)
        .transpose()
        .map_err(malformed)?;
    // No change up to `at_seq`: the resource was as the next change found it.
    let (last, state) = match last {
        Some(e) => {
            let state = e.after.clone();
            (Some(e), state)
        }
        None => {
            let q = Query::new(
                Index::Gsi2,
                k::by_resource(tenant, resource_type, resource_id),
            )
            .range(KeyRange::Between(
                k::entry_sk(at_seq.saturating_add(1)),
                k::entry_sk(u64::MAX / 2),
            ))
            .limit(1);
            let next: Option<AuditEntry> = store
                .query(&q)
                .await?
                .items
                .first()
                .map(|i| serde_json::from_value(i.data.clone()))
                .transpose()
                .map_err(malformed)?;
            let state = next.as_ref().and_then(|e| e.before.clone());
            (next, state)
        }
    };
    let entry_intact = last
        .as_ref()
        .is_some_and(|e| e.stored_hash() == Some(e.compute_hash()));
    Ok(ResourceState {
        resource_type: resource_type.to_string(),
        resource_id: resource_id.to_string(),
        at_seq,
        exists: state.is_some(),
        state,
        source_entry: last,
        entry_intact,
        changes,
    })
}

/// The first entry at or after `t` (`at_or_after`), or the last one at or before it:
/// the sequence bounds of a time range. Entry times never decrease along the chain.
pub async fn seq_at(
    store: &dyn ItemStore,
    tenant: &TenantId,
    t: DateTime<Utc>,
    at_or_after: bool,
) -> Result<Option<u64>, StoreError> {
    let mut q = Query::new(Index::Primary, k::ledger_pk(tenant))
        .range(KeyRange::Prefix(k::ENTRY_PREFIX.into()));
    if !at_or_after {
        q = q.newest_first();
    }
    let got = query_filtered(store, q, 1, usize::MAX, move |item| {
        serde_json::from_value::<AuditEntry>(item.data.clone())
            .is_ok_and(|e| if at_or_after { e.at >= t } else { e.at <= t })
    })
    .await?;
    Ok(got.items.first().and_then(|i| k::seq_of(&i.sk)))
}
