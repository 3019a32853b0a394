//! Values to item data and back, and the reads and writes every repo module shares.
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::ports::store::{Item, ItemStore, StoreError, WriteOp};

/// A value as item data.
pub(crate) fn encode(value: &impl Serialize) -> Result<Value, StoreError> {
    serde_json::to_value(value).map_err(|e| StoreError::Malformed(e.to_string()))
}

/// An item's data as a value; data that does not fit is a malformed item.
pub(crate) fn decode<T: DeserializeOwned>(item: &Item) -> Result<T, StoreError> {
    serde_json::from_value(item.data.clone()).map_err(|e| StoreError::Malformed(e.to_string()))
}

/// The item at (`pk`, `sk`), read through `from`, if there is one.
pub(crate) async fn get_with<T>(
    store: &dyn ItemStore,
    pk: &str,
    sk: &str,
    from: impl FnOnce(&Item) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    store.get(pk, sk).await?.map(|i| from(&i)).transpose()
}

/// Writes `ops` atomically; false when one of their conditions failed.
pub(crate) async fn write_if(store: &dyn ItemStore, ops: Vec<WriteOp>) -> Result<bool, StoreError> {
    match store.write(ops).await {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}
