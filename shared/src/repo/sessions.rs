//! Storage behind finding sessions: the evidence items of a (rule, subject), the index
//! of its sessions by time, and the lock item every writer of them moves.
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::item::{decode, encode};
use super::storage_keys::{self, SESSION_LOCK_SK};
use crate::domain::finding::MAX_EVIDENCE;
use crate::domain::{Evidence, Session, TenantId};
use crate::ports::store::{
    Condition, Index, Item, ItemStore, KeyRange, Query, StoreError, WriteOp,
};

/// Which (rule, subject) a set of sessions belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    pub rule_id: String,
    pub subject: String,
}

impl Scope {
    pub fn new(rule_id: &str, subject: &str) -> Self {
        Self {
            rule_id: rule_id.to_string(),
            subject: subject.to_string(),
        }
    }

    fn sessions_pk(&self, t: &TenantId) -> String {
        storage_keys::sessions_pk(t, &self.rule_id, &self.subject)
    }

    fn evidence_pk(&self, t: &TenantId) -> String {
        storage_keys::evidence_pk(t, &self.rule_id, &self.subject)
    }
}

/// One stored session: where its finding is and what span it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRef {
    pub finding_id: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// Records `evidence` for `scope`. Idempotent; needs no transaction, since a session's
/// count is read from these items, never kept beside them.
pub async fn put_evidence(
    store: &dyn ItemStore,
    tenant: &TenantId,
    scope: &Scope,
    evidence: &[Evidence],
) -> Result<(), StoreError> {
    if evidence.is_empty() {
        return Ok(());
    }
    let pk = scope.evidence_pk(tenant);
    let items = evidence
        .iter()
        .map(|e| {
            Item::new(
                &pk,
                storage_keys::timed(e.at, &e.id),
                serde_json::Value::Null,
            )
        })
        .collect();
    store.put_all(items).await
}

fn span_range(first: DateTime<Utc>, last: DateTime<Utc>) -> KeyRange {
    storage_keys::time_range(Some(first), Some(last + Duration::milliseconds(1)))
}

/// The evidence stored for `scope` in `[first, last]`: its exact count and the earliest
/// [`MAX_EVIDENCE`] ids.
pub async fn evidence_in(
    store: &dyn ItemStore,
    tenant: &TenantId,
    scope: &Scope,
    first: DateTime<Utc>,
    last: DateTime<Utc>,
) -> Result<Session, StoreError> {
    let q = Query::new(Index::Primary, scope.evidence_pk(tenant))
        .range(span_range(first, last))
        .limit(MAX_EVIDENCE);
    let page = store.query(&q).await?;
    let count = if page.next.is_none() {
        page.items.len() as u64
    } else {
        store.count(&q).await?
    };
    let event_ids = page
        .items
        .iter()
        .filter_map(|i| i.sk.split_once('#').map(|(_, id)| id.to_string()))
        .collect();
    Ok(Session {
        first_seen: first,
        last_seen: last,
        event_ids,
        evidence_count: count,
    })
}

/// The version of `scope`'s lock: 0 when no writer has taken it yet.
pub async fn lock_version(
    store: &dyn ItemStore,
    tenant: &TenantId,
    scope: &Scope,
) -> Result<u64, StoreError> {
    Ok(store
        .get(&scope.sessions_pk(tenant), SESSION_LOCK_SK)
        .await?
        .map_or(0, |i| i.version))
}

/// The op that moves the lock from `version` (0: none yet), failing if another writer
/// moved it first.
pub fn lock_op(tenant: &TenantId, scope: &Scope, version: u64) -> WriteOp {
    let mut item = Item::new(
        scope.sessions_pk(tenant),
        SESSION_LOCK_SK,
        serde_json::Value::Null,
    );
    item.version = version + 1;
    let condition = if version == 0 {
        Condition::NotExists
    } else {
        Condition::Version(version)
    };
    WriteOp::put(item, condition)
}

/// Sessions of `scope` whose span comes within `gap` of `[from, to]`, earliest first.
/// Sessions never overlap, so the walk back from `to + gap` stops at the first one that
/// ends too early.
pub async fn sessions_near(
    store: &dyn ItemStore,
    tenant: &TenantId,
    scope: &Scope,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    gap: Duration,
) -> Result<Vec<SessionRef>, StoreError> {
    let upper = storage_keys::timed(to + gap, "\u{10FFFF}");
    let mut q = Query::new(Index::Primary, scope.sessions_pk(tenant))
        .range(KeyRange::Between(String::new(), upper))
        .newest_first()
        .limit(8);
    let mut out = Vec::new();
    loop {
        let page = store.query(&q).await?;
        for item in &page.items {
            let s: SessionRef = decode(item)?;
            if s.last_seen + gap < from {
                out.reverse();
                return Ok(out);
            }
            out.push(s);
        }
        match page.next {
            Some(next) => q.after = Some(next),
            None => {
                out.reverse();
                return Ok(out);
            }
        }
    }
}

/// The index entry of a session.
pub fn session_put(
    tenant: &TenantId,
    scope: &Scope,
    s: &SessionRef,
) -> Result<WriteOp, StoreError> {
    let item = Item::new(
        scope.sessions_pk(tenant),
        storage_keys::timed(s.first_seen, &s.finding_id),
        encode(s)?,
    );
    Ok(WriteOp::put(item, Condition::None))
}

/// Removes a session's index entry.
pub fn session_delete(tenant: &TenantId, scope: &Scope, s: &SessionRef) -> WriteOp {
    WriteOp::Delete {
        pk: scope.sessions_pk(tenant),
        sk: storage_keys::timed(s.first_seen, &s.finding_id),
        condition: Condition::None,
    }
}
