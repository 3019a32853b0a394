//! Drift events, one partition per AI system, newest run last in key order. The key is
//! deterministic per (run, system) so a conditional put records each drift once.
use super::item::{decode, encode, get_with};
use super::storage_keys::ai_systems as k;
use crate::domain::TenantId;
use crate::domain::ai_system::DriftEvent;
use crate::ports::store::{Condition, Cursor, Index, Item, ItemStore, Query, StoreError, WriteOp};

fn sk(run_id: &str, id: &str) -> String {
    format!("{run_id}#{id}")
}

pub fn put_op(e: &DriftEvent) -> Result<WriteOp, StoreError> {
    let data = encode(e)?;
    let item = Item::new(
        k::drift_pk(&e.tenant, &e.system_id),
        sk(&e.run_id, &e.id),
        data,
    );
    Ok(WriteOp::put(item, Condition::NotExists))
}

pub fn from_item(item: &Item) -> Result<DriftEvent, StoreError> {
    decode(item)
}

pub async fn get(
    store: &dyn ItemStore,
    tenant: &TenantId,
    system_id: &str,
    run_id: &str,
    id: &str,
) -> Result<Option<DriftEvent>, StoreError> {
    get_with(
        store,
        &k::drift_pk(tenant, system_id),
        &sk(run_id, id),
        from_item,
    )
    .await
}

pub fn list_query(tenant: &TenantId, system_id: &str) -> Query {
    Query::new(Index::Primary, k::drift_pk(tenant, system_id)).newest_first()
}

/// A system's drift events, newest first.
pub async fn list(
    store: &dyn ItemStore,
    tenant: &TenantId,
    system_id: &str,
    limit: usize,
    after: Option<Cursor>,
) -> Result<(Vec<DriftEvent>, Option<Cursor>), StoreError> {
    let page = store
        .query(&list_query(tenant, system_id).limit(limit).after(after))
        .await?;
    let events = page.items.iter().map(from_item).collect::<Result<_, _>>()?;
    Ok((events, page.next))
}
