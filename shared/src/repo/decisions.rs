//! Stored risk and compliance requests: one item each, indexed for listing (all, by
//! status), and the tenant's guardrails. Every change of a request, each finished step
//! included, is a write conditioned on the item version it was read at, so two workers
//! racing on one message cannot both record a step.
use super::item::{decode, encode, get_with, write_if};
use super::page::{Filtered, query_filtered};
use super::storage_keys::decide as k;
use crate::decide::{Decision, DecisionKind, Guardrails, Status};
use crate::domain::TenantId;
use crate::ports::store::{
    Condition, Cursor, Index, IndexKey, Item, ItemStore, Query, StoreError, WriteOp,
};

/// A request with the item version it was read at.
#[derive(Debug, Clone)]
pub struct Versioned {
    pub record: Decision,
    pub version: u64,
}

pub fn to_item(tenant: &TenantId, d: &Decision, version: u64) -> Result<Item, StoreError> {
    let mut item = Item::new(k::decision_pk(tenant, &d.id), k::DECISION_SK, encode(d)?);
    item.version = version;
    item.gsi1 = Some(IndexKey::new(k::all(tenant), d.id.clone()));
    item.gsi2 = Some(IndexKey::new(
        k::by_status(tenant, d.status.as_str()),
        d.id.clone(),
    ));
    Ok(item)
}

pub async fn get(
    store: &dyn ItemStore,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<Versioned>, StoreError> {
    get_with(store, &k::decision_pk(tenant, id), k::DECISION_SK, |i| {
        Ok(Versioned {
            record: decode(i)?,
            version: i.version,
        })
    })
    .await
}

pub fn from_item(item: &Item) -> Result<Decision, StoreError> {
    decode(item)
}

/// The op storing a new request (version 1).
pub fn create_op(tenant: &TenantId, d: &Decision) -> Result<WriteOp, StoreError> {
    Ok(WriteOp::put(to_item(tenant, d, 1)?, Condition::NotExists))
}

/// The op writing `after` over the version read.
pub fn replace_op(
    tenant: &TenantId,
    before: &Versioned,
    after: &Decision,
) -> Result<WriteOp, StoreError> {
    Ok(WriteOp::put(
        to_item(tenant, after, before.version + 1)?,
        Condition::Version(before.version),
    ))
}

/// Writes `after` over `before` with `extra` ops (audit entries) atomically; false when
/// another writer changed the request first.
pub async fn replace(
    store: &dyn ItemStore,
    tenant: &TenantId,
    before: &Versioned,
    after: &Decision,
    extra: Vec<WriteOp>,
) -> Result<bool, StoreError> {
    let mut ops = vec![replace_op(tenant, before, after)?];
    ops.extend(extra);
    write_if(store, ops).await
}

/// The index range [`list`] reads (newest first).
pub fn list_query(tenant: &TenantId, status: Option<Status>) -> Query {
    match status {
        Some(s) => Query::new(Index::Gsi2, k::by_status(tenant, s.as_str())),
        None => Query::new(Index::Gsi1, k::all(tenant)),
    }
    .newest_first()
}

/// Requests newest first, optionally of one status and one kind.
pub async fn list(
    store: &dyn ItemStore,
    tenant: &TenantId,
    status: Option<Status>,
    kind: Option<DecisionKind>,
    limit: usize,
    after: Option<Cursor>,
) -> Result<Filtered, StoreError> {
    let query = list_query(tenant, status).after(after);
    let wanted = kind.map(DecisionKind::as_str);
    query_filtered(store, query, limit, 1000, |item| {
        wanted.is_none_or(|w| {
            item.data
                .get("ask")
                .and_then(|a| a.get("kind"))
                .and_then(|v| v.as_str())
                == Some(w)
        })
    })
    .await
}

/// The tenant's guardrails; the defaults until an admin sets them.
pub async fn guardrails(
    store: &dyn ItemStore,
    tenant: &TenantId,
) -> Result<Guardrails, StoreError> {
    Ok(
        get_with(store, &k::guardrails_pk(tenant), k::GUARDRAILS_SK, decode)
            .await?
            .unwrap_or_default(),
    )
}

/// The op replacing the tenant's guardrails.
pub fn guardrails_op(tenant: &TenantId, g: &Guardrails) -> Result<WriteOp, StoreError> {
    Ok(WriteOp::put(
        Item::new(k::guardrails_pk(tenant), k::GUARDRAILS_SK, encode(g)?),
        Condition::None,
    ))
}
