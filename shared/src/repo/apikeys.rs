//! API key records (hash only) under the tenant's partition.
use super::item::{decode, encode, get_with};
use super::page::collect_all;
use super::storage_keys;
use crate::domain::TenantId;
use crate::domain::apikey::{ApiKeyRecord, PresentedKey};
use crate::ports::store::{Condition, Index, Item, ItemStore, Query, StoreError, WriteOp};

fn from_item(item: &Item) -> Result<ApiKeyRecord, StoreError> {
    decode(item)
}

/// The put of a new key record; `ConditionFailed` if the id is taken.
pub fn create_op(record: &ApiKeyRecord) -> Result<WriteOp, StoreError> {
    let data = encode(record)?;
    Ok(WriteOp::put(
        Item::new(storage_keys::apikeys_pk(&record.tenant), &record.id, data),
        Condition::NotExists,
    ))
}

/// A tenant's key record with the version it was read at.
pub async fn get(
    store: &dyn ItemStore,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<(ApiKeyRecord, u64)>, StoreError> {
    get_with(store, &storage_keys::apikeys_pk(tenant), id, |i| {
        Ok((from_item(i)?, i.version))
    })
    .await
}

/// The write of `record` over the version read.
pub fn replace_op(record: &ApiKeyRecord, read_version: u64) -> Result<WriteOp, StoreError> {
    let data = encode(record)?;
    let mut item = Item::new(storage_keys::apikeys_pk(&record.tenant), &record.id, data);
    item.version = read_version + 1;
    Ok(WriteOp::put(item, Condition::Version(read_version)))
}

/// The record a presented key belongs to, if the key is valid and not revoked.
pub async fn authenticate(
    store: &dyn ItemStore,
    key: &PresentedKey,
) -> Result<Option<ApiKeyRecord>, StoreError> {
    let Some(item) = store
        .get(&storage_keys::apikeys_pk(&key.tenant), &key.key_id)
        .await?
    else {
        return Ok(None);
    };
    let record = from_item(&item)?;
    Ok((!record.revoked && key.matches(&record.hash)).then_some(record))
}

/// Keys of a tenant, hashes removed.
pub async fn list(
    store: &dyn ItemStore,
    tenant: &TenantId,
) -> Result<Vec<ApiKeyRecord>, StoreError> {
    let q = Query::new(Index::Primary, storage_keys::apikeys_pk(tenant)).limit(500);
    collect_all(store, q, |item| {
        let mut r = from_item(item)?;
        r.hash.clear();
        Ok(r)
    })
    .await
}
