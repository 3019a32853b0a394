//! [`ItemStore`] over one DynamoDB table.
//!
//! Attribute layout: `pk`/`sk` (table keys), `g1pk`/`g1sk` .. `g6pk`/`g6sk` (keys of the
//! GSIs `gsi1`..`gsi6`), `ttl` (N, unix seconds), `v` (N, version), `n` (N, counter) and
//! `d` (S, the JSON of [`Item::data`]). Semantics follow the embedded (SQLite) store.
use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, Delete, KeysAndAttributes, Put, PutRequest,
    TransactWriteItem, Update, WriteRequest,
};

use crate::ports::clock::{Clock, SystemClock};
use crate::ports::store::{
    Condition, Cursor, Index, IndexKey, Item, ItemStore, KeyRange, Page, Query, StoreError,
    WriteOp, cursor_for, validate_batch,
};

type Attrs = HashMap<String, AttributeValue>;

const PK: &str = "pk";
const SK: &str = "sk";
const TTL: &str = "ttl";
const VERSION: &str = "v";
const COUNT: &str = "n";
const DATA: &str = "d";

/// Table-level names of the GSI key attributes, and the index names.
pub(super) fn index_attrs(index: Index) -> Option<(&'static str, &'static str, &'static str)> {
    match index {
        Index::Primary => None,
        Index::Gsi1 => Some(("gsi1", "g1pk", "g1sk")),
        Index::Gsi2 => Some(("gsi2", "g2pk", "g2sk")),
        Index::Gsi3 => Some(("gsi3", "g3pk", "g3sk")),
        Index::Gsi4 => Some(("gsi4", "g4pk", "g4sk")),
        Index::Gsi5 => Some(("gsi5", "g5pk", "g5sk")),
        Index::Gsi6 => Some(("gsi6", "g6pk", "g6sk")),
    }
}

/// `$builder` (a single-item write or a transaction's part) guarded by `$condition`:
/// the condition expression with the attribute names and values it uses.
macro_rules! conditioned {
    ($builder:expr, $condition:expr, $now:expr) => {{
        let cond = ConditionParts::of($condition, $now);
        $builder
            .set_condition_expression(cond.expression)
            .set_expression_attribute_names(cond.names)
            .set_expression_attribute_values(cond.values)
    }};
}

/// DynamoDB item store. Reads use the store's clock to hide expired items, since
/// DynamoDB's TTL sweeper deletes them lazily (up to days later).
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            clock: Arc::new(SystemClock),
        }
    }

    /// Replaces the clock used to decide which items have expired.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    async fn write_one(&self, op: WriteOp) -> Result<(), StoreError> {
        let table = self.table.as_str();
        let now = self.clock.now().timestamp();
        match op {
            WriteOp::Put { item, condition } => {
                let put = self
                    .client
                    .put_item()
                    .table_name(table)
                    .set_item(Some(item_to_attrs(&item)?));
                conditioned!(put, condition, now)
                    .send()
                    .await
                    .map_err(|e| single_write_error("PutItem", table, &e))?;
            }
            WriteOp::Delete { pk, sk, condition } => {
                let delete = self
                    .client
                    .delete_item()
                    .table_name(table)
                    .set_key(Some(key_attrs(&pk, &sk)));
                conditioned!(delete, condition, now)
                    .send()
                    .await
                    .map_err(|e| single_write_error("DeleteItem", table, &e))?;
            }
            WriteOp::Add { pk, sk, delta } => {
                let add = AddParts::new(delta);
                self.client
                    .update_item()
                    .table_name(table)
                    .set_key(Some(key_attrs(&pk, &sk)))
                    .update_expression(add.expression)
                    .set_expression_attribute_names(Some(add.names))
                    .set_expression_attribute_values(Some(add.values))
                    .send()
                    .await
                    .map_err(|e| single_write_error("UpdateItem", table, &e))?;
            }
        }
        Ok(())
    }

    async fn write_many(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        let table = self.table.as_str();
        let now = self.clock.now().timestamp();
        let mut items = Vec::with_capacity(ops.len());
        for op in ops {
            items.push(transact_item(table, op, now)?);
        }
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            // Makes the SDK's own retries idempotent: a retried request whose first
            // attempt did commit is not applied twice (an `Add` would count twice).
            .client_request_token(uuid::Uuid::new_v4().to_string())
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err) => Err(transaction_error(table, &err)),
        }
    }

    async fn query_page(
        &self,
        q: &Query,
        start: Option<Attrs>,
        limit: usize,
    ) -> Result<(Vec<Attrs>, Option<Attrs>), StoreError> {
        let (index_name, pcol, scol) = match index_attrs(q.index) {
            None => (None, PK, SK),
            Some((name, p, s)) => (Some(name), p, s),
        };
        let mut names = HashMap::from([("#p".to_string(), pcol.to_string())]);
        let mut values = HashMap::from([(":p".to_string(), AttributeValue::S(q.pk.clone()))]);
        let mut expression = "#p = :p".to_string();
        match &q.range {
            KeyRange::All => {}
            KeyRange::Prefix(prefix) if prefix.is_empty() => {}
            KeyRange::Prefix(prefix) => {
                names.insert("#s".into(), scol.into());
                values.insert(":a".into(), AttributeValue::S(prefix.clone()));
                expression.push_str(" AND begins_with(#s, :a)");
            }
            // DynamoDB refuses an empty string in a key condition; every key is >= "".
            KeyRange::Between(from, to) if from.is_empty() => {
                names.insert("#s".into(), scol.into());
                values.insert(":b".into(), AttributeValue::S(to.clone()));
                expression.push_str(" AND #s <= :b");
            }
            KeyRange::Between(from, to) => {
                names.insert("#s".into(), scol.into());
                values.insert(":a".into(), AttributeValue::S(from.clone()));
                values.insert(":b".into(), AttributeValue::S(to.clone()));
                expression.push_str(" AND #s BETWEEN :a AND :b");
            }
        }
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(index_name.map(str::to_string))
            // GSIs only support eventually consistent reads; the table is read
            // consistently, as the embedded store always is.
            .set_consistent_read(index_name.is_none().then_some(true))
            .key_condition_expression(expression)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .scan_index_forward(q.forward)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| {
                StoreError::Unavailable(format!(
                    "Query on {}{}: {}",
                    self.table,
                    index_name
                        .map(|i| format!(" index {i}"))
                        .unwrap_or_default(),
                    DisplayErrorContext(&e)
                ))
            })?;
        let next = out.last_evaluated_key().filter(|k| !k.is_empty()).cloned();
        Ok((out.items.unwrap_or_default(), next))
    }
}

#[async_trait]
impl ItemStore for DynamoStore {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        if pk.is_empty() || sk.is_empty() {
            // DynamoDB refuses empty key values, so no such item exists.
            return Ok(None);
        }
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| {
                StoreError::Unavailable(format!(
                    "GetItem {pk}/{sk} on {}: {}",
                    self.table,
                    DisplayErrorContext(&e)
                ))
            })?;
        let now = self.clock.now().timestamp();
        match out.item() {
            None => Ok(None),
            Some(attrs) => {
                let item = attrs_to_item(attrs)?;
                Ok((!expired(&item, now)).then_some(item))
            }
        }
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        // DynamoDB rejects what the embedded store answers with nothing: an empty key
        // (no item can have one) and a BETWEEN whose bounds are reversed.
        let empty_range = matches!(&query.range, KeyRange::Between(from, to) if from > to);
        if query.pk.is_empty() || empty_range {
            return Ok(Page::default());
        }
        let limit = query.limit.max(1);
        // One item beyond the page tells whether more follow, so `next` is set exactly
        // when another page exists, as in the embedded store.
        let want = limit.saturating_add(1);
        let now = self.clock.now().timestamp();
        let mut start = match &query.after {
            None => None,
            Some(cursor) => Some(start_key(query.index, cursor)?),
        };
        let mut items = Vec::with_capacity(want.min(1000));
        loop {
            let (page, next) = self
                .query_page(query, start.take(), want - items.len())
                .await?;
            for attrs in &page {
                let item = attrs_to_item(attrs)?;
                // DynamoDB deletes expired items lazily; hide them here.
                if !expired(&item, now) {
                    items.push(item);
                }
            }
            start = next;
            if items.len() >= want || start.is_none() {
                break;
            }
        }
        let more = items.len() > limit;
        items.truncate(limit);
        let next = if more {
            items.last().map(|i| cursor_for(i, query.index))
        } else {
            None
        };
        Ok(Page { items, next })
    }

    async fn write(&self, mut ops: Vec<WriteOp>) -> Result<(), StoreError> {
        validate_batch(&ops)?;
        if ops.len() == 1 {
            match ops.pop() {
                Some(op) => self.write_one(op).await,
                None => Err(StoreError::InvalidBatch("empty batch".into())),
            }
        } else {
            self.write_many(ops).await
        }
    }

    async fn put_all(&self, items: Vec<Item>) -> Result<(), StoreError> {
        let mut requests = Vec::with_capacity(items.len());
        for item in &items {
            let put = PutRequest::builder()
                .set_item(Some(item_to_attrs(item)?))
                .build()
                .map_err(|e| build_error("PutRequest", e))?;
            requests.push(WriteRequest::builder().put_request(put).build());
        }
        for chunk in requests.chunks(BATCH_WRITE_MAX) {
            self.batch_write(chunk.to_vec()).await?;
        }
        Ok(())
    }

    async fn exist(&self, keys: &[(String, String)]) -> Result<Vec<bool>, StoreError> {
        // BatchGetItem refuses a repeated key and DynamoDB an empty one (which no item has).
        let mut wanted: Vec<&(String, String)> = keys
            .iter()
            .filter(|(pk, sk)| !pk.is_empty() && !sk.is_empty())
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let mut found = std::collections::HashSet::new();
        for chunk in wanted.chunks(BATCH_GET_MAX) {
            found.extend(self.batch_get_keys(chunk).await?);
        }
        Ok(keys.iter().map(|k| found.contains(k)).collect())
    }
}

/// Most puts one BatchWriteItem carries.
const BATCH_WRITE_MAX: usize = 25;
/// Most keys one BatchGetItem reads.
const BATCH_GET_MAX: usize = 100;

/// What a batch call answers while some of its items remain unprocessed (throttling):
/// contention to the retry helper, so it backs off and sends the rest again.
fn unprocessed(what: &str, table: &str, left: usize) -> StoreError {
    tracing::debug!(table, left, "{what}: unprocessed items, retrying");
    StoreError::Conflict
}

/// The retry helper gave up on a batch call with items still unprocessed.
fn gave_up(what: &str, table: &str, e: StoreError) -> StoreError {
    match e {
        StoreError::Conflict => StoreError::Unavailable(format!(
            "{what} on {table}: items still unprocessed after {} attempts",
            crate::retry::MAX_ATTEMPTS
        )),
        e => e,
    }
}

impl DynamoStore {
    /// One BatchWriteItem of at most [`BATCH_WRITE_MAX`] puts, sending its
    /// UnprocessedItems again with the retry helper's backoff.
    async fn batch_write(&self, requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        let table = self.table.as_str();
        let pending = std::sync::Mutex::new(requests);
        let pending = &pending;
        crate::retry::on_conflict(move || async move {
            let batch = pending.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let out = self
                .client
                .batch_write_item()
                .request_items(table, batch)
                .send()
                .await
                .map_err(|e| single_write_error("BatchWriteItem", table, &e))?;
            let left = out
                .unprocessed_items
                .and_then(|mut m| m.remove(table))
                .unwrap_or_default();
            let n = left.len();
            *pending.lock().unwrap_or_else(|e| e.into_inner()) = left;
            match n {
                0 => Ok(()),
                n => Err(unprocessed("BatchWriteItem", table, n)),
            }
        })
        .await
        .map_err(|e| gave_up("BatchWriteItem", table, e))
    }

    /// Which of at most [`BATCH_GET_MAX`] distinct keys hold a live item, reading keys
    /// and expiry only; UnprocessedKeys are read again with the retry helper's backoff.
    async fn batch_get_keys(
        &self,
        keys: &[&(String, String)],
    ) -> Result<Vec<(String, String)>, StoreError> {
        let table = self.table.as_str();
        let now = self.clock.now().timestamp();
        let ask = KeysAndAttributes::builder()
            .set_keys(Some(
                keys.iter().map(|(pk, sk)| key_attrs(pk, sk)).collect(),
            ))
            .projection_expression("#p, #s, #t")
            .expression_attribute_names("#p", PK)
            .expression_attribute_names("#s", SK)
            .expression_attribute_names("#t", TTL)
            .consistent_read(true)
            .build()
            .map_err(|e| build_error("KeysAndAttributes", e))?;
        let pending = std::sync::Mutex::new(Some(ask));
        let found = std::sync::Mutex::new(Vec::new());
        let (pending, found_ref) = (&pending, &found);
        crate::retry::on_conflict(move || async move {
            let Some(ask) = pending.lock().unwrap_or_else(|e| e.into_inner()).clone() else {
                return Ok(());
            };
            let mut out = self
                .client
                .batch_get_item()
                .request_items(table, ask)
                .send()
                .await
                .map_err(|e| {
                    StoreError::Unavailable(format!(
                        "BatchGetItem on {table}: {}",
                        DisplayErrorContext(&e)
                    ))
                })?;
            let got = out
                .responses
                .as_mut()
                .and_then(|m| m.remove(table))
                .unwrap_or_default();
            found_ref.lock().unwrap_or_else(|e| e.into_inner()).extend(
                got.iter()
                    // Expired but not yet swept is absent, as in `get`.
                    .filter(|a| {
                        attr_n::<i64>(a, TTL, &String::new)
                            .ok()
                            .flatten()
                            .is_none_or(|t| t > now)
                    })
                    .filter_map(|a| Some((attr_s(a, PK)?.to_string(), attr_s(a, SK)?.to_string()))),
            );
            let left = out
                .unprocessed_keys
                .and_then(|mut m| m.remove(table))
                .filter(|k| !k.keys().is_empty());
            let n = left.as_ref().map_or(0, |k| k.keys().len());
            *pending.lock().unwrap_or_else(|e| e.into_inner()) = left;
            match n {
                0 => Ok(()),
                n => Err(unprocessed("BatchGetItem", table, n)),
            }
        })
        .await
        .map_err(|e| gave_up("BatchGetItem", table, e))?;
        Ok(found.into_inner().unwrap_or_else(|e| e.into_inner()))
    }
}

fn expired(item: &Item, now: i64) -> bool {
    item.ttl.is_some_and(|t| t <= now)
}

fn key_attrs(pk: &str, sk: &str) -> Attrs {
    HashMap::from([
        (PK.to_string(), AttributeValue::S(pk.to_string())),
        (SK.to_string(), AttributeValue::S(sk.to_string())),
    ])
}

/// ExclusiveStartKey for a cursor: the table keys, plus the index keys on a GSI.
fn start_key(index: Index, cursor: &Cursor) -> Result<Attrs, StoreError> {
    let mut key = key_attrs(&cursor.pk, &cursor.sk);
    if let Some((_, pcol, scol)) = index_attrs(index) {
        let ik = cursor
            .index
            .as_ref()
            .ok_or_else(|| StoreError::InvalidBatch("cursor lacks index key".into()))?;
        key.insert(pcol.to_string(), AttributeValue::S(ik.pk.clone()));
        key.insert(scol.to_string(), AttributeValue::S(ik.sk.clone()));
    }
    Ok(key)
}

fn item_to_attrs(item: &Item) -> Result<Attrs, StoreError> {
    let data = serde_json::to_string(&item.data)
        .map_err(|e| StoreError::Malformed(format!("item {}/{}: {e}", item.pk, item.sk)))?;
    let mut attrs = key_attrs(&item.pk, &item.sk);
    for index in Index::SECONDARY {
        if let (Some(ik), Some((_, pcol, scol))) = (item.index_key(index), index_attrs(index)) {
            attrs.insert(pcol.to_string(), AttributeValue::S(ik.pk.clone()));
            attrs.insert(scol.to_string(), AttributeValue::S(ik.sk.clone()));
        }
    }
    if let Some(ttl) = item.ttl {
        attrs.insert(TTL.to_string(), AttributeValue::N(ttl.to_string()));
    }
    attrs.insert(
        VERSION.to_string(),
        AttributeValue::N(item.version.to_string()),
    );
    attrs.insert(COUNT.to_string(), AttributeValue::N(item.count.to_string()));
    attrs.insert(DATA.to_string(), AttributeValue::S(data));
    Ok(attrs)
}

fn attr_s<'a>(attrs: &'a Attrs, name: &str) -> Option<&'a str> {
    match attrs.get(name) {
        Some(AttributeValue::S(s)) => Some(s),
        _ => None,
    }
}

fn attr_n<T: std::str::FromStr>(
    attrs: &Attrs,
    name: &str,
    whose: &dyn Fn() -> String,
) -> Result<Option<T>, StoreError> {
    match attrs.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::N(n)) => n.parse().map(Some).map_err(|_| {
            StoreError::Malformed(format!(
                "{}: attribute {name} is not a valid number",
                whose()
            ))
        }),
        Some(_) => Err(StoreError::Malformed(format!(
            "{}: attribute {name} is not a number",
            whose()
        ))),
    }
}

fn attrs_to_item(attrs: &Attrs) -> Result<Item, StoreError> {
    let pk = attr_s(attrs, PK)
        .ok_or_else(|| StoreError::Malformed("item without string attribute pk".into()))?;
    let sk = attr_s(attrs, SK)
        .ok_or_else(|| StoreError::Malformed(format!("item {pk}: no string attribute sk")))?;
    let whose = || format!("item {pk}/{sk}");
    let index_key = |index: Index| {
        let (_, pcol, scol) = index_attrs(index)?;
        Some(IndexKey::new(attr_s(attrs, pcol)?, attr_s(attrs, scol)?))
    };
    let version: u64 = attr_n(attrs, VERSION, &whose)?
        .ok_or_else(|| StoreError::Malformed(format!("{}: no version attribute v", whose())))?;
    let data = attr_s(attrs, DATA)
        .ok_or_else(|| StoreError::Malformed(format!("{}: no data attribute d", whose())))?;
    let data = serde_json::from_str(data)
        .map_err(|e| StoreError::Malformed(format!("{}: data is not JSON: {e}", whose())))?;
    Ok(Item {
        pk: pk.to_string(),
        sk: sk.to_string(),
        gsi1: index_key(Index::Gsi1),
        gsi2: index_key(Index::Gsi2),
        gsi3: index_key(Index::Gsi3),
        gsi4: index_key(Index::Gsi4),
        gsi5: index_key(Index::Gsi5),
        gsi6: index_key(Index::Gsi6),
        ttl: attr_n(attrs, TTL, &whose)?,
        version,
        count: attr_n(attrs, COUNT, &whose)?.unwrap_or(0),
        data,
    })
}

/// ConditionExpression and its placeholders; DynamoDB rejects unused or empty maps, so
/// each part is only set when the condition needs it.
struct ConditionParts {
    expression: Option<String>,
    names: Option<HashMap<String, String>>,
    values: Option<Attrs>,
}

impl ConditionParts {
    /// Conditions hold on the *live* item: one whose `ttl` has passed is absent, as
    /// reads treat it, even while DynamoDB's sweeper has not yet deleted it (that can
    /// take days). Without this a not-exists put would fail against an item no read
    /// can see, and a version or exists condition could hold on one.
    fn of(condition: Condition, now: i64) -> Self {
        const LIVE: &str = "(attribute_not_exists(#ttl) OR #ttl > :now)";
        let live_values =
            || HashMap::from([(":now".to_string(), AttributeValue::N(now.to_string()))]);
        let names = |pairs: &[(&str, &str)]| {
            Some(
                pairs
                    .iter()
                    .map(|(n, a)| ((*n).to_string(), (*a).to_string()))
                    .collect::<HashMap<_, _>>(),
            )
        };
        match condition {
            Condition::None => Self {
                expression: None,
                names: None,
                values: None,
            },
            Condition::NotExists => Self {
                expression: Some("attribute_not_exists(#pk) OR #ttl <= :now".into()),
                names: names(&[("#pk", PK), ("#ttl", TTL)]),
                values: Some(live_values()),
            },
            Condition::Exists => Self {
                expression: Some(format!("attribute_exists(#pk) AND {LIVE}")),
                names: names(&[("#pk", PK), ("#ttl", TTL)]),
                values: Some(live_values()),
            },
            Condition::Version(v) => {
                let mut values = live_values();
                values.insert(":expected_v".into(), AttributeValue::N(v.to_string()));
                Self {
                    expression: Some(format!("#v = :expected_v AND {LIVE}")),
                    names: names(&[("#v", VERSION), ("#ttl", TTL)]),
                    values: Some(values),
                }
            }
        }
    }
}

/// `Add`: bump the counter, creating the item (data null, version 1) if missing.
struct AddParts {
    expression: &'static str,
    names: HashMap<String, String>,
    values: Attrs,
}

impl AddParts {
    fn new(delta: i64) -> Self {
        Self {
            expression: "SET #d = if_not_exists(#d, :null), #v = if_not_exists(#v, :one) ADD #n :delta",
            names: HashMap::from([
                ("#d".into(), DATA.into()),
                ("#v".into(), VERSION.into()),
                ("#n".into(), COUNT.into()),
            ]),
            values: HashMap::from([
                (":null".into(), AttributeValue::S("null".into())),
                (":one".into(), AttributeValue::N("1".into())),
                (":delta".into(), AttributeValue::N(delta.to_string())),
            ]),
        }
    }
}

fn build_error(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::InvalidBatch(format!("cannot build {what}: {e}"))
}

fn transact_item(table: &str, op: WriteOp, now: i64) -> Result<TransactWriteItem, StoreError> {
    Ok(match op {
        WriteOp::Put { item, condition } => {
            let put = Put::builder()
                .table_name(table)
                .set_item(Some(item_to_attrs(&item)?));
            let put = conditioned!(put, condition, now)
                .build()
                .map_err(|e| build_error("Put", e))?;
            TransactWriteItem::builder().put(put).build()
        }
        WriteOp::Delete { pk, sk, condition } => {
            let delete = Delete::builder()
                .table_name(table)
                .set_key(Some(key_attrs(&pk, &sk)));
            let delete = conditioned!(delete, condition, now)
                .build()
                .map_err(|e| build_error("Delete", e))?;
            TransactWriteItem::builder().delete(delete).build()
        }
        WriteOp::Add { pk, sk, delta } => {
            let add = AddParts::new(delta);
            let update = Update::builder()
                .table_name(table)
                .set_key(Some(key_attrs(&pk, &sk)))
                .update_expression(add.expression)
                .set_expression_attribute_names(Some(add.names))
                .set_expression_attribute_values(Some(add.values))
                .build()
                .map_err(|e| build_error("Update", e))?;
            TransactWriteItem::builder().update(update).build()
        }
    })
}

fn is_throttling(code: &str) -> bool {
    matches!(
        code,
        "ProvisionedThroughputExceededException"
            | "ProvisionedThroughputExceeded"
            | "RequestLimitExceeded"
            | "ThrottlingException"
            | "ThrottlingError"
    )
}

/// Maps the error of a single-item write (PutItem, DeleteItem, UpdateItem).
fn single_write_error<E, R>(operation: &str, table: &str, err: &SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + StdError + 'static,
    R: Debug,
{
    let code = err.as_service_error().and_then(|e| e.code());
    match code {
        Some("ConditionalCheckFailedException") => StoreError::ConditionFailed { op: 0 },
        Some("TransactionConflictException") => StoreError::Conflict,
        Some("ValidationException") => StoreError::InvalidBatch(format!(
            "{operation} on {table} rejected: {}",
            DisplayErrorContext(err)
        )),
        Some(c) if is_throttling(c) => StoreError::Unavailable(format!(
            "{operation} on {table} throttled: {}",
            DisplayErrorContext(err)
        )),
        _ => StoreError::Unavailable(format!(
            "{operation} on {table}: {}",
            DisplayErrorContext(err)
        )),
    }
}

/// Maps a TransactWriteItems failure; cancellation reasons are positional, one per op.
fn transaction_error<R: Debug>(
    table: &str,
    err: &SdkError<TransactWriteItemsError, R>,
) -> StoreError {
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(e)) => {
            cancellation_error(table, e.cancellation_reasons(), &DisplayErrorContext(err))
        }
        Some(TransactWriteItemsError::TransactionInProgressException(_)) => StoreError::Conflict,
        Some(e) if e.code() == Some("TransactionConflictException") => StoreError::Conflict,
        Some(e) if e.code() == Some("ValidationException") => StoreError::InvalidBatch(format!(
            "TransactWriteItems on {table} rejected: {}",
            DisplayErrorContext(err)
        )),
        _ => StoreError::Unavailable(format!(
            "TransactWriteItems on {table}: {}",
            DisplayErrorContext(err)
        )),
    }
}

fn cancellation_error(
    table: &str,
    reasons: &[CancellationReason],
    context: &dyn std::fmt::Display,
) -> StoreError {
    let code_at =
        |wanted: &dyn Fn(&str) -> bool| reasons.iter().position(|r| r.code().is_some_and(wanted));
    if let Some(op) = code_at(&|c| c == "ConditionalCheckFailed") {
        return StoreError::ConditionFailed { op };
    }
    if code_at(&|c| c == "TransactionConflict").is_some() {
        return StoreError::Conflict;
    }
    if let Some(i) = code_at(&|c| c == "ValidationError") {
        let message = reasons
            .get(i)
            .and_then(|r| r.message())
            .unwrap_or("validation error");
        return StoreError::InvalidBatch(format!(
            "TransactWriteItems on {table}: write {i} rejected: {message}"
        ));
    }
    if code_at(&is_throttling).is_some() {
        return StoreError::Unavailable(format!(
            "TransactWriteItems on {table} throttled: {context}"
        ));
    }
    StoreError::Unavailable(format!(
        "TransactWriteItems on {table} cancelled: {context}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_attrs_round_trip() {
        let mut item = Item::new("T#1", "A#1", serde_json::json!({"x": [1, 2]}));
        item.gsi2 = Some(IndexKey::new("g", "h"));
        item.ttl = Some(1_700_000_000);
        item.version = 7;
        item.count = -3;
        let attrs = item_to_attrs(&item).unwrap();
        assert!(!attrs.contains_key("g1pk"));
        assert_eq!(attrs_to_item(&attrs).unwrap(), item);
    }

    #[test]
    fn gsi_cursor_needs_index_key() {
        let cursor = Cursor {
            pk: "a".into(),
            sk: "b".into(),
            index: None,
        };
        assert!(start_key(Index::Primary, &cursor).is_ok());
        assert!(matches!(
            start_key(Index::Gsi1, &cursor),
            Err(StoreError::InvalidBatch(_))
        ));
        let cursor = Cursor {
            index: Some(IndexKey::new("x", "y")),
            ..cursor
        };
        let key = start_key(Index::Gsi3, &cursor).unwrap();
        assert_eq!(key.len(), 4);
        assert_eq!(key.get("g3sk"), Some(&AttributeValue::S("y".into())));
    }

    #[test]
    fn first_conditional_failure_wins() {
        let reason = |code: &str| CancellationReason::builder().code(code).build();
        let reasons = [
            reason("None"),
            reason("TransactionConflict"),
            reason("ConditionalCheckFailed"),
            reason("ConditionalCheckFailed"),
        ];
        assert!(matches!(
            cancellation_error("t", &reasons, &"x"),
            StoreError::ConditionFailed { op: 2 }
        ));
        assert!(matches!(
            cancellation_error("t", &reasons[..2], &"x"),
            StoreError::Conflict
        ));
        assert!(matches!(
            cancellation_error("t", &[], &"x"),
            StoreError::Unavailable(_)
        ));
    }
}
