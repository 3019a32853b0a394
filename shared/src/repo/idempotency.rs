//! Idempotency-Key records: the first answer to a request, replayed to its retries.
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::item::encode;
use super::storage_keys;
use crate::domain::TenantId;
use crate::ports::store::{Condition, Item, ItemStore, StoreError, WriteOp};

/// How long a key is remembered.
pub const RETENTION: Duration = Duration::hours(24);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recorded {
    /// Digest of the request the key was first used with.
    pub request_hash: String,
    pub status: u16,
    pub body: serde_json::Value,
    pub expires_at: i64,
}

pub fn request_hash(scope: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(scope.as_bytes());
    h.update([0]);
    h.update(body);
    hex::encode(h.finalize())
}

fn sort_key(scope: &str, key: &str) -> String {
    format!("{scope}#{key}")
}

pub async fn lookup(
    store: &dyn ItemStore,
    tenant: &TenantId,
    scope: &str,
    key: &str,
    now: DateTime<Utc>,
) -> Result<Option<Recorded>, StoreError> {
    let Some(item) = store
        .get(&storage_keys::idempotency_pk(tenant), &sort_key(scope, key))
        .await?
    else {
        return Ok(None);
    };
    let r: Recorded =
        serde_json::from_value(item.data).map_err(|e| StoreError::Malformed(e.to_string()))?;
    // DynamoDB deletes expired items lazily; an expired record is no record.
    Ok((r.expires_at > now.timestamp()).then_some(r))
}

/// Records the answer. Two concurrent first uses write the same answer (event ids derive
/// from the key), so the last write winning is harmless.
/// The first answer to a request.
pub struct Answer {
    pub request_hash: String,
    pub status: u16,
    pub body: serde_json::Value,
}

pub async fn record(
    store: &dyn ItemStore,
    tenant: &TenantId,
    scope: &str,
    key: &str,
    answer: Answer,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let expires_at = (now + RETENTION).timestamp();
    let rec = Recorded {
        request_hash: answer.request_hash,
        status: answer.status,
        body: answer.body,
        expires_at,
    };
    let data = encode(&rec)?;
    let mut item = Item::new(
        storage_keys::idempotency_pk(tenant),
        sort_key(scope, key),
        data,
    );
    item.ttl = Some(expires_at);
    match store.write(vec![WriteOp::put(item, Condition::None)]).await {
        Ok(()) | Err(StoreError::ConditionFailed { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}
