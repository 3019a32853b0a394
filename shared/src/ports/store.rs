//! The item store port: a narrow, DynamoDB-shaped key-value store with conditional,
//! atomic multi-item writes. Both adapter families implement exactly these semantics.
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// A secondary index key (partition and sort key of one GSI).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexKey {
    pub pk: String,
    pub sk: String,
}

impl IndexKey {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }
}

/// One stored item. `data` is the domain payload; `count` is an atomic counter used by
/// [`WriteOp::Add`]; `version` backs optimistic concurrency.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub pk: String,
    pub sk: String,
    pub gsi1: Option<IndexKey>,
    pub gsi2: Option<IndexKey>,
    pub gsi3: Option<IndexKey>,
    pub gsi4: Option<IndexKey>,
    pub gsi5: Option<IndexKey>,
    pub gsi6: Option<IndexKey>,
    /// Expiry as unix seconds; expired items are invisible to reads.
    pub ttl: Option<i64>,
    pub version: u64,
    pub count: i64,
    pub data: serde_json::Value,
}

impl Item {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>, data: serde_json::Value) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
            gsi1: None,
            gsi2: None,
            gsi3: None,
            gsi4: None,
            gsi5: None,
            gsi6: None,
            ttl: None,
            version: 1,
            count: 0,
            data,
        }
    }

    pub fn index_key(&self, index: Index) -> Option<&IndexKey> {
        match index {
            Index::Primary => None,
            Index::Gsi1 => self.gsi1.as_ref(),
            Index::Gsi2 => self.gsi2.as_ref(),
            Index::Gsi3 => self.gsi3.as_ref(),
            Index::Gsi4 => self.gsi4.as_ref(),
            Index::Gsi5 => self.gsi5.as_ref(),
            Index::Gsi6 => self.gsi6.as_ref(),
        }
    }
}

/// Precondition on the stored item for a write. Conditions see the store as reads do:
/// an item past its `ttl` is absent even while it awaits deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    None,
    NotExists,
    Exists,
    /// The stored item exists and has this version.
    Version(u64),
}

#[derive(Debug, Clone, PartialEq)]
pub enum WriteOp {
    /// Replace the whole item (the caller sets the new version).
    Put {
        item: Box<Item>,
        condition: Condition,
    },
    Delete {
        pk: String,
        sk: String,
        condition: Condition,
    },
    /// Atomically add `delta` to the item's counter, creating the item at zero first.
    Add { pk: String, sk: String, delta: i64 },
}

impl WriteOp {
    pub fn put(item: Item, condition: Condition) -> Self {
        WriteOp::Put {
            item: Box::new(item),
            condition,
        }
    }

    pub fn add(pk: impl Into<String>, sk: impl Into<String>, delta: i64) -> Self {
        WriteOp::Add {
            pk: pk.into(),
            sk: sk.into(),
            delta,
        }
    }

    pub fn key(&self) -> (&str, &str) {
        match self {
            WriteOp::Put { item, .. } => (&item.pk, &item.sk),
            WriteOp::Delete { pk, sk, .. } | WriteOp::Add { pk, sk, .. } => (pk, sk),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Index {
    Primary,
    Gsi1,
    Gsi2,
    Gsi3,
    Gsi4,
    Gsi5,
    Gsi6,
}

impl Index {
    /// Every secondary index, in order.
    pub const SECONDARY: [Index; 6] = [
        Index::Gsi1,
        Index::Gsi2,
        Index::Gsi3,
        Index::Gsi4,
        Index::Gsi5,
        Index::Gsi6,
    ];
}

/// Sort-key condition of a query; bounds are inclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRange {
    All,
    Prefix(String),
    Between(String, String),
}

/// Where the previous page stopped; opaque to API clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub pk: String,
    pub sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<IndexKey>,
}

#[derive(Debug, Clone)]
pub struct Query {
    pub index: Index,
    pub pk: String,
    pub range: KeyRange,
    /// Ascending sort-key order when true.
    pub forward: bool,
    pub limit: usize,
    pub after: Option<Cursor>,
}

impl Query {
    pub fn new(index: Index, pk: impl Into<String>) -> Self {
        Self {
            index,
            pk: pk.into(),
            range: KeyRange::All,
            forward: true,
            limit: 100,
            after: None,
        }
    }

    pub fn range(mut self, range: KeyRange) -> Self {
        self.range = range;
        self
    }

    pub fn newest_first(mut self) -> Self {
        self.forward = false;
        self
    }

    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit.max(1);
        self
    }

    pub fn after(mut self, cursor: Option<Cursor>) -> Self {
        self.after = cursor;
        self
    }
}

#[derive(Debug, Clone, Default)]
pub struct Page {
    pub items: Vec<Item>,
    /// Set when more items may follow.
    pub next: Option<Cursor>,
}

/// Cursor for the item that ends a page, in the key space of `index`.
pub fn cursor_for(item: &Item, index: Index) -> Cursor {
    Cursor {
        pk: item.pk.clone(),
        sk: item.sk.clone(),
        index: item.index_key(index).cloned(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The condition of the write at `op` (index into the batch) did not hold; nothing was written.
    #[error("condition failed on write {op}")]
    ConditionFailed { op: usize },
    /// Another writer touched one of the items at the same time; retrying is safe.
    #[error("conflicting concurrent write")]
    Conflict,
    #[error("invalid write batch: {0}")]
    InvalidBatch(String),
    #[error("stored item is malformed: {0}")]
    Malformed(String),
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// The most ops one atomic write may carry (DynamoDB's TransactWriteItems limit).
pub const MAX_WRITE_OPS: usize = 100;

#[async_trait]
pub trait ItemStore: Send + Sync {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError>;
    async fn query(&self, query: &Query) -> Result<Page, StoreError>;
    /// Applies every op or none. At most [`MAX_WRITE_OPS`], each on a distinct key.
    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), StoreError>;

    /// Whether each of `keys` (pk, sk) holds an item.
    async fn exist(&self, keys: &[(String, String)]) -> Result<Vec<bool>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        for (pk, sk) in keys {
            out.push(self.get(pk, sk).await?.is_some());
        }
        Ok(out)
    }

    /// How many items `query` selects (its limit and cursor ignored).
    async fn count(&self, query: &Query) -> Result<u64, StoreError> {
        let mut q = query.clone().limit(1000).after(None);
        let mut n = 0;
        loop {
            let page = self.query(&q).await?;
            n += page.items.len() as u64;
            match page.next {
                Some(next) => q.after = Some(next),
                None => return Ok(n),
            }
        }
    }

    /// The cursor that resumes `query` after its first `n` items (n ≥ 1), or None when
    /// it selects fewer: for offset pages (its limit and cursor ignored). Adapters that
    /// can skip without reading the items override it.
    async fn skip(&self, query: &Query, n: usize) -> Result<Option<Cursor>, StoreError> {
        let mut q = query.clone().after(None);
        let mut left = n;
        while left > 0 {
            q.limit = left.min(1000);
            let page = self.query(&q).await?;
            left -= page.items.len().min(left);
            if left == 0 {
                return Ok(page.items.last().map(|i| cursor_for(i, q.index)));
            }
            match page.next {
                Some(next) => q.after = Some(next),
                None => return Ok(None),
            }
        }
        Ok(None)
    }

    /// Stores every item unconditionally, not necessarily atomically: for idempotent
    /// puts that need no transaction (DynamoDB's BatchWriteItem, one SQLite
    /// transaction). Distinct keys.
    async fn put_all(&self, items: Vec<Item>) -> Result<(), StoreError> {
        let mut ops: Vec<WriteOp> = items
            .into_iter()
            .map(|i| WriteOp::put(i, Condition::None))
            .collect();
        while !ops.is_empty() {
            let rest = ops.split_off(ops.len().min(MAX_WRITE_OPS));
            self.write(std::mem::replace(&mut ops, rest)).await?;
        }
        Ok(())
    }
}

/// Checks the batch rules shared by every adapter.
pub fn validate_batch(ops: &[WriteOp]) -> Result<(), StoreError> {
    if ops.is_empty() {
        return Err(StoreError::InvalidBatch("empty batch".into()));
    }
    if ops.len() > MAX_WRITE_OPS {
        return Err(StoreError::InvalidBatch(format!(
            "{} ops, at most {MAX_WRITE_OPS}",
            ops.len()
        )));
    }
    let mut keys: Vec<(&str, &str)> = ops.iter().map(WriteOp::key).collect();
    keys.sort_unstable();
    if keys.windows(2).any(|w| w[0] == w[1]) {
        return Err(StoreError::InvalidBatch("two ops on one key".into()));
    }
    Ok(())
}
