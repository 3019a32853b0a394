//! Verification of a stored ledger: recomputes every entry hash, the chain links, the
//! chain head and the Merkle roots signed in checkpoints, and names the first break.
use std::collections::{HashMap, HashSet};

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use super::checkpoint::Checkpoint;
use super::entry::{AuditEntry, GENESIS_HASH};
use super::merkle::{Frontier, Hash};
use crate::domain::TenantId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakKind {
    /// An entry's fields no longer match its hash or its successor's link.
    Modified,
    /// An entry is missing.
    Deleted,
    /// An entry that the ledger never appended is present.
    Inserted,
    /// An entry sits at another entry's place.
    Reordered,
    /// Entries at the end are gone.
    Truncated,
    /// A checkpoint's signature does not verify.
    BadCheckpoint,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Break {
    pub kind: BreakKind,
    /// The first sequence number affected.
    pub seq: u64,
    pub detail: String,
}

/// One stored item as read: the sequence number of its key and its decoded entry.
#[derive(Debug, Clone)]
pub struct StoredEntry {
    pub key_seq: u64,
    pub entry: Result<AuditEntry, String>,
}

/// What the chain head item records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadState {
    pub seq: u64,
    pub hash: String,
}

pub struct VerifyInput<'a> {
    pub tenant: &'a TenantId,
    /// Stored entries in key order, starting at `from`.
    pub entries: &'a [StoredEntry],
    pub from: u64,
    /// Stored hash of entry `from - 1` (GENESIS for 1).
    pub prev_hash: String,
    /// The chain head, when the range runs to the end of the log.
    pub head: Option<HeadState>,
    /// Checkpoints to check; only used when `from` is 1 (roots need every leaf).
    pub checkpoints: &'a [Checkpoint],
    pub trusted_key: Option<&'a VerifyingKey>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub ok: bool,
    pub from: u64,
    /// Last sequence number examined.
    pub to: u64,
    pub entries_checked: u64,
    /// Hex root of entries 1..=to, when the range starts at 1 and is intact.
    pub root_hash: Option<String>,
    pub checkpoints_checked: u64,
    pub first_break: Option<Break>,
    #[serde(skip)]
    pub leaves: Vec<Hash>,
}

fn brk(kind: BreakKind, seq: u64, detail: impl Into<String>) -> Break {
    Break {
        kind,
        seq,
        detail: detail.into(),
    }
}

/// Walks the chain; returns the first break and the leaf hashes of the intact prefix.
fn walk(input: &VerifyInput<'_>) -> (Option<Break>, Vec<Hash>, u64) {
    let entries = input.entries;
    let by_hash: HashMap<&str, usize> = entries
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.entry.as_ref().ok().map(|e| (e.hash.as_str(), i)))
        .collect();
    let seqs: HashSet<u64> = entries
        .iter()
        .filter_map(|s| s.entry.as_ref().ok().map(|e| e.seq))
        .collect();
    let mut expected = input.from;
    let mut prev = input.prev_hash.clone();
    let mut leaves = Vec::with_capacity(entries.len());
    for (i, s) in entries.iter().enumerate() {
        let k = s.key_seq;
        if k > expected {
            let b = brk(
                BreakKind::Deleted,
                expected,
                format!("entry {expected} is missing (the next stored entry is {k})"),
            );
            return (Some(b), leaves, expected - 1);
        }
        let e = match &s.entry {
            Ok(e) => e,
            Err(msg) => {
                let b = brk(
                    BreakKind::Modified,
                    k,
                    format!("stored item {k} is not a valid entry: {msg}"),
                );
                return (Some(b), leaves, k - 1);
            }
        };
        let recomputed = e.compute_hash();
        let intact = e.stored_hash() == Some(recomputed);
        let found = |b: Break| (Some(b), leaves.clone(), k - 1);
        if e.seq != k {
            if !intact {
                return found(brk(
                    BreakKind::Modified,
                    k,
                    format!("entry {k} was changed (it now claims sequence {})", e.seq),
                ));
            }
            return found(if e.seq < k {
                brk(
                    BreakKind::Inserted,
                    e.seq,
                    format!(
                        "entry {} is stored at position {k}: an entry was inserted before it",
                        e.seq
                    ),
                )
            } else if seqs.contains(&k) {
                brk(
                    BreakKind::Reordered,
                    k,
                    format!("position {k} holds entry {}", e.seq),
                )
            } else {
                brk(
                    BreakKind::Deleted,
                    k,
                    format!(
                        "position {k} holds entry {}: entries {k}..{} were removed",
                        e.seq,
                        e.seq - 1
                    ),
                )
            });
        }
        if &e.tenant != input.tenant {
            return found(brk(
                BreakKind::Inserted,
                k,
                format!("entry {k} belongs to tenant {}", e.tenant),
            ));
        }
        if !intact {
            return found(brk(
                BreakKind::Modified,
                k,
                format!("entry {k} was changed: its fields do not match its hash"),
            ));
        }
        if e.prev_hash != prev {
            let skipped_one = i >= 2
                && entries[i - 2]
                    .entry
                    .as_ref()
                    .is_ok_and(|p| p.hash == e.prev_hash);
            let b = if skipped_one {
                brk(
                    BreakKind::Inserted,
                    k - 1,
                    format!(
                        "entry {} is not in the chain: entry {k} links to entry {}",
                        k - 1,
                        k - 2
                    ),
                )
            } else if by_hash.get(e.prev_hash.as_str()).is_some_and(|&j| j > i) {
                brk(
                    BreakKind::Reordered,
                    k,
                    format!("entry {k} links to an entry stored after it"),
                )
            } else if k == 1 || e.prev_hash == GENESIS_HASH {
                brk(
                    BreakKind::Inserted,
                    k,
                    format!("entry {k} does not continue the chain"),
                )
            } else {
                brk(
                    BreakKind::Modified,
                    k - 1,
                    format!(
                        "entry {k} links to a hash no stored entry has: entry {} was changed and re-hashed, or entries before {k} were deleted and the rest renumbered",
                        k - 1
                    ),
                )
            };
            return (Some(b), leaves, k - 1);
        }
        prev = e.hash.clone();
        leaves.push(recomputed);
        expected += 1;
    }
    let last = expected - 1;
    if let Some(head) = &input.head {
        if head.seq > last {
            let b = brk(
                BreakKind::Truncated,
                last + 1,
                format!(
                    "the chain head records {} entries; the log ends at {last}",
                    head.seq
                ),
            );
            return (Some(b), leaves, last);
        }
        if head.seq < last {
            let b = brk(
                BreakKind::Inserted,
                head.seq + 1,
                format!(
                    "entries after {} were added outside the ledger (the chain head records {})",
                    head.seq, head.seq
                ),
            );
            return (Some(b), leaves, last);
        }
        if head.hash != prev && last > 0 {
            let b = brk(
                BreakKind::Modified,
                last,
                format!("entry {last} differs from the one the chain head recorded"),
            );
            return (Some(b), leaves, last);
        }
    }
    (None, leaves, last)
}

/// Verifies the input and reports the earliest break found by the chain walk, the head
/// or any checkpoint.
pub fn verify(input: &VerifyInput<'_>) -> Report {
    let (chain_break, leaves, last) = walk(input);
    let mut breaks: Vec<Break> = chain_break.into_iter().collect();
    let mut checked = 0u64;
    let mut root_hash = None;
    if input.from == 1 {
        let mut cps: Vec<&Checkpoint> = input.checkpoints.iter().collect();
        cps.sort_by_key(|c| c.tree_size);
        let intact = leaves.len() as u64;
        let mut frontier = Frontier::default();
        let mut prev_ok = 0u64;
        for cp in cps {
            checked += 1;
            if cp.verify(input.trusted_key).is_err() || cp.tenant != *input.tenant {
                breaks.push(brk(
                    BreakKind::BadCheckpoint,
                    cp.tree_size,
                    format!("checkpoint of size {} does not verify", cp.tree_size),
                ));
                break;
            }
            if cp.tree_size > intact {
                if breaks.is_empty() {
                    breaks.push(brk(
                        BreakKind::Truncated,
                        intact + 1,
                        format!(
                            "checkpoint signed at {} covers {} entries; the log has {intact}",
                            cp.at, cp.tree_size
                        ),
                    ));
                }
                break;
            }
            for leaf in &leaves[usize::try_from(frontier.size()).unwrap_or(usize::MAX)
                ..usize::try_from(cp.tree_size).unwrap_or(usize::MAX)]
            {
                frontier.push(*leaf);
            }
            if cp.root() != Some(frontier.root()) {
                breaks.push(brk(
                    BreakKind::Modified,
                    prev_ok + 1,
                    format!(
                        "entries {}..{} differ from those signed in the checkpoint of {} (size {})",
                        prev_ok + 1,
                        cp.tree_size,
                        cp.at,
                        cp.tree_size
                    ),
                ));
                break;
            }
            prev_ok = cp.tree_size;
        }
        if breaks.is_empty() {
            for leaf in &leaves[usize::try_from(frontier.size()).unwrap_or(usize::MAX)..] {
                frontier.push(*leaf);
            }
            root_hash = Some(hex::encode(frontier.root()));
        }
    }
    let first_break = breaks.into_iter().min_by_key(|b| b.seq);
    Report {
        ok: first_break.is_none(),
        from: input.from,
        to: last,
        entries_checked: leaves.len() as u64,
        root_hash,
        checkpoints_checked: checked,
        first_break,
        leaves,
    }
}
