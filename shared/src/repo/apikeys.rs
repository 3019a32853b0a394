//! API key records (hash only) under the tenant's partition.
use chrono::{DateTime, Utc};

use super::keys;
use crate::audit;
use crate::domain::TenantId;
use crate::domain::apikey::{ApiKeyRecord, NewKey, PresentedKey, Role, mint_key};
use crate::ports::store::{Condition, Index, Item, ItemStore, Query, StoreError, WriteOp};

fn from_item(item: &Item) -> Result<ApiKeyRecord, StoreError> {
    serde_json::from_value(item.data.clone()).map_err(|e| StoreError::Malformed(e.to_string()))
}

/// Mints and stores a key; the returned plaintext is the only copy. Audited as done by
/// the `apikeys` system component; use [`create_by`] to name the actor.
pub async fn create(
    store: &dyn ItemStore,
    tenant: &TenantId,
    role: Role,
    name: Option<String>,
    now: DateTime<Utc>,
) -> Result<(ApiKeyRecord, String), StoreError> {
    create_by(
        store,
        tenant,
        role,
        name,
        &audit::Actor::system("apikeys"),
        None,
        now,
    )
    .await
}

/// The record as the audit log shows it: never the hash.
fn audited(r: &ApiKeyRecord) -> ApiKeyRecord {
    ApiKeyRecord {
        hash: String::new(),
        ..r.clone()
    }
}

/// Mints and stores a key, with its audit entry in the same write.
pub async fn create_by(
    store: &dyn ItemStore,
    tenant: &TenantId,
    role: Role,
    name: Option<String>,
    actor: &audit::Actor,
    request_id: Option<String>,
    now: DateTime<Utc>,
) -> Result<(ApiKeyRecord, String), StoreError> {
    for attempt in 0..audit::MAX_ATTEMPTS {
        let NewKey {
            key_id,
            plaintext,
            hash,
        } = mint_key(tenant);
        let record = ApiKeyRecord {
            id: key_id,
            tenant: tenant.clone(),
            role,
            name: name.clone(),
            hash,
            created_at: now,
            revoked: false,
        };
        let data =
            serde_json::to_value(&record).map_err(|e| StoreError::Malformed(e.to_string()))?;
        let item = Item::new(keys::apikeys_pk(tenant), &record.id, data);
        let draft = audit::AuditDraft::new(actor.clone(), "api_key.create", "api_key", &record.id)
            .request_id(request_id.clone())
            .after(&audited(&record));
        let prepared = audit::prepare(store, tenant, &draft, now).await?;
        let mut ops = vec![WriteOp::put(item, Condition::NotExists)];
        ops.extend(prepared.ops);
        match store.write(ops).await {
            Ok(()) => return Ok((record, plaintext)),
            Err(e) if audit::retryable(&e) => audit::backoff(attempt).await,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Conflict)
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
    revoke_by(
        store,
        tenant,
        id,
        &audit::Actor::system("apikeys"),
        None,
        Utc::now(),
    )
    .await
}

/// Marks a key revoked, with its audit entry in the same write.
pub async fn revoke_by(
    store: &dyn ItemStore,
    tenant: &TenantId,
    id: &str,
    actor: &audit::Actor,
    request_id: Option<String>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    for attempt in 0..audit::MAX_ATTEMPTS {
        let Some(item) = store.get(&keys::apikeys_pk(tenant), id).await? else {
            return Ok(false);
        };
        let before = from_item(&item)?;
        if before.revoked {
            return Ok(true);
        }
        let mut record = before.clone();
        record.revoked = true;
        let mut next = item.clone();
        next.version = item.version + 1;
        next.data =
            serde_json::to_value(&record).map_err(|e| StoreError::Malformed(e.to_string()))?;
        let draft = audit::AuditDraft::new(actor.clone(), "api_key.revoke", "api_key", id)
            .request_id(request_id.clone())
            .before(&audited(&before))
            .after(&audited(&record));
        let prepared = audit::prepare(store, tenant, &draft, now).await?;
        let mut ops = vec![WriteOp::put(next, Condition::Version(item.version))];
        ops.extend(prepared.ops);
        match store.write(ops).await {
            Ok(()) => return Ok(true),
            Err(e) if audit::retryable(&e) => audit::backoff(attempt).await,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Conflict)
}
