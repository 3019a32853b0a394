//! API key records (hash only) under the tenant's partition.
use chrono::{DateTime, Utc};

use super::keys;
use crate::domain::TenantId;
use crate::domain::apikey::{ApiKeyRecord, NewKey, PresentedKey, Role, mint_key};
use crate::ports::store::{Condition, Index, Item, ItemStore, Query, StoreError, WriteOp};

fn from_item(item: &Item) -> Result<ApiKeyRecord, StoreError> {
    serde_json::from_value(item.data.clone()).map_err(|e| StoreError::Malformed(e.to_string()))
}

/// Mints and stores a key; the returned plaintext is the only copy.
pub async fn create(
    store: &dyn ItemStore,
    tenant: &TenantId,
    role: Role,
    name: Option<String>,
    now: DateTime<Utc>,
) -> Result<(ApiKeyRecord, String), StoreError> {
    let NewKey {
        key_id,
        plaintext,
        hash,
    } = mint_key(tenant);
    let record = ApiKeyRecord {
        id: key_id,
        tenant: tenant.clone(),
        role,
        name,
        hash,
        created_at: now,
        revoked: false,
    };
    let data = serde_json::to_value(&record).map_err(|e| StoreError::Malformed(e.to_string()))?;
    let item = Item::new(keys::apikeys_pk(tenant), &record.id, data);
    store
        .write(vec![WriteOp::put(item, Condition::NotExists)])
        .await?;
    Ok((record, plaintext))
}

/// The record a presented key belongs to, if the key is valid and not revoked.
pub async fn authenticate(
    store: &dyn ItemStore,
    key: &PresentedKey,
) -> Result<Option<ApiKeyRecord>, StoreError> {
    let Some(item) = store
        .get(&keys::apikeys_pk(&key.tenant), &key.key_id)
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
    let mut q = Query::new(Index::Primary, keys::apikeys_pk(tenant)).limit(500);
    let mut out = Vec::new();
    loop {
        let page = store.query(&q).await?;
        for item in &page.items {
            let mut r = from_item(item)?;
            r.hash.clear();
            out.push(r);
        }
        match page.next {
            Some(n) => q.after = Some(n),
            None => return Ok(out),
        }
    }
}

/// Marks a key revoked; false when no such key exists for the tenant.
pub async fn revoke(
    store: &dyn ItemStore,
    tenant: &TenantId,
    id: &str,
) -> Result<bool, StoreError> {
    let Some(item) = store.get(&keys::apikeys_pk(tenant), id).await? else {
        return Ok(false);
    };
    let mut record = from_item(&item)?;
    record.revoked = true;
    let mut next = item.clone();
    next.version = item.version + 1;
    next.data = serde_json::to_value(&record).map_err(|e| StoreError::Malformed(e.to_string()))?;
    store
        .write(vec![WriteOp::put(next, Condition::Version(item.version))])
        .await?;
    Ok(true)
}
