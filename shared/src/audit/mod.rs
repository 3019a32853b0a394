//! The tamper-evident audit ledger: one append-only, hash-chained log per tenant, an
//! RFC 9162 Merkle tree over it and Ed25519-signed checkpoints of that tree.
//!
//! Recording a change: `prepare` gives the write ops of the next entry (the chain head
//! under a version condition, the entry under not-exists, stats counters); the caller adds
//! them to its own atomic write (`service::commit`) and the whole read-modify-write runs
//! again through `retry::on_conflict` when another writer won. The head's condition serializes appends per tenant.
pub mod checkpoint;
pub mod entry;
pub mod export;
pub mod ledger;
pub mod merkle;
pub mod verify;

pub use checkpoint::{Checkpoint, CheckpointError, CheckpointSigner};
pub use entry::{Actor, AuditDraft, AuditEntry, GENESIS_HASH, Outcome};
pub use verify::{Break, BreakKind, Report};

pub use crate::repo::audit::{OPS_PER_ENTRY, Prepared, append, prepare};

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Store(#[from] crate::ports::StoreError),
    #[error("the audit ledger has no entries yet")]
    Empty,
    #[error("{0}")]
    OutOfRange(String),
    #[error("the audit ledger is broken at entry {}: {}", .0.seq, .0.detail)]
    Broken(Box<Break>),
    #[error("no audit signing key is configured (VIGIL_AUDIT_SIGNING_KEY)")]
    NoSigner,
    #[error("the audit ledger kept changing; retry")]
    Busy,
}
