//! The audit ledger's logic over the store: checkpoints, verification, inclusion and
//! consistency proofs, export and reconstructing a resource's state at a point in
//! time. `repo::audit` holds only how entries, heads and checkpoints are stored.
use chrono::{DateTime, Utc};
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use super::checkpoint::{Checkpoint, CheckpointSigner};
use super::entry::{AuditEntry, GENESIS_HASH};
use super::merkle::{self, Hash, Tree};
use super::verify::{self, HeadState, Report, VerifyInput};
use super::{AuditError, Break};
use crate::domain::TenantId;
use crate::ports::store::{
    Condition, Index, Item, ItemStore, KeyRange, Query, StoreError, WriteOp,
};
use crate::repo::audit::{
    checkpoints, head, latest_checkpoint, leaves, ledgers, malformed, read_range,
};
use crate::repo::page::query_filtered;
use crate::repo::storage_keys::audit as k;

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

/// The leaves of the tree a proof runs in: the first `upto` (the whole ledger when
/// `None`), with that size, once `1 <= low <= upto <= head`; otherwise `OutOfRange`
/// spelling that rule with the parameters' names.
async fn proof_leaves(
    store: &dyn ItemStore,
    tenant: &TenantId,
    (low_name, low): (&str, u64),
    (upto_name, upto): (&str, Option<u64>),
) -> Result<(u64, Vec<Hash>), AuditError> {
    let size = head_seq(store, tenant).await?;
    let upto = upto.unwrap_or(size);
    if low == 0 || low > upto || upto > size {
        return Err(AuditError::OutOfRange(format!(
            "need 1 <= {low_name} <= {upto_name} <= {size}"
        )));
    }
    Ok((upto, leaves(store, tenant, upto).await?))
}

pub async fn inclusion_proof(
    store: &dyn ItemStore,
    tenant: &TenantId,
    seq: u64,
    tree_size: Option<u64>,
) -> Result<InclusionProof, AuditError> {
    let (tree_size, leaves) =
        proof_leaves(store, tenant, ("seq", seq), ("tree_size", tree_size)).await?;
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
    let (to, leaves) = proof_leaves(store, tenant, ("from", from), ("to", to)).await?;
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
