//! API keys: minting and revoking, each with its audit entry in the same write. The
//! secret exists in plaintext only in the answer to create.
use chrono::{DateTime, Utc};

use super::{Origin, ServiceError, commit};
use crate::domain::apikey::{ApiKeyRecord, NewKey, Role, mint_key};
use crate::ports::{ItemStore, StoreError};
use crate::repo::apikeys;
use crate::retry::on_conflict;

/// The record as the audit log shows it: never the hash.
fn audited(r: &ApiKeyRecord) -> ApiKeyRecord {
    ApiKeyRecord {
        hash: String::new(),
        ..r.clone()
    }
}

/// Mints and stores a key for the origin's tenant, audited as `api_key.create`. The
/// returned plaintext is the only copy.
pub async fn create(
    store: &dyn ItemStore,
    origin: &Origin,
    role: Role,
    name: Option<String>,
    now: DateTime<Utc>,
) -> Result<(ApiKeyRecord, String), StoreError> {
    let name = &name;
    on_conflict(move || async move {
        let NewKey {
            key_id,
            plaintext,
            hash,
        } = mint_key(&origin.tenant);
        let record = ApiKeyRecord {
            id: key_id,
            tenant: origin.tenant.clone(),
            role,
            name: name.clone(),
            hash,
            created_at: now,
            revoked: false,
        };
        let draft = origin
            .draft("api_key.create", "api_key", &record.id)
            .after(&audited(&record));
        commit(
            store,
            &origin.tenant,
            &draft,
            vec![apikeys::create_op(&record)?],
            now,
        )
        .await?;
        Ok((record, plaintext))
    })
    .await
}

/// Revokes a key of the origin's tenant, audited as `api_key.revoke`. A revoked key is
/// gone as far as clients can tell: revoking it again is not found.
pub async fn revoke(
    store: &dyn ItemStore,
    origin: &Origin,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    on_conflict(move || async move {
        let (before, version) = apikeys::get(store, &origin.tenant, id)
            .await?
            .ok_or(ServiceError::NotFound("API key"))?;
        if before.revoked {
            return Err(ServiceError::NotFound("API key"));
        }
        let mut record = before.clone();
        record.revoked = true;
        let draft = origin
            .draft("api_key.revoke", "api_key", id)
            .before(&audited(&before))
            .after(&audited(&record));
        commit(
            store,
            &origin.tenant,
            &draft,
            vec![apikeys::replace_op(&record, version)?],
            now,
        )
        .await?;
        Ok(())
    })
    .await
}
