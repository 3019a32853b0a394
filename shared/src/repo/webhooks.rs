//! Stored webhook endpoints, messages and delivery attempts. Every key starts with the
//! tenant id (see `storage_keys::webhooks`), so another tenant's ids simply are not found.
use chrono::{DateTime, Duration, Utc};

use super::item::{decode, encode, get_with, write_if};
use super::page::collect_all;
use super::storage_keys::{self, webhooks as wk};
use crate::domain::TenantId;
use crate::ports::store::{
    Condition, Cursor, Index, IndexKey, Item, ItemStore, KeyRange, Query, StoreError, WriteOp,
    cursor_for,
};
use crate::webhooks::delivery::{Attempt, MessageStatus, WebhookMessage};
use crate::webhooks::endpoint::Endpoint;

/// Messages and their attempts are kept this long.
pub const MESSAGE_TTL_DAYS: i64 = 30;

fn malformed(e: serde_json::Error) -> StoreError {
    StoreError::Malformed(e.to_string())
}

/// A stored value with the version it was read at.
#[derive(Debug, Clone)]
pub struct Versioned<T> {
    pub value: T,
    pub version: u64,
}

// ---------------------------------------------------------------- endpoints

pub fn endpoint_item(e: &Endpoint, version: u64) -> Result<Item, StoreError> {
    let data = encode(e)?;
    let mut item = Item::new(wk::endpoints_pk(&e.tenant), &e.id, data);
    item.version = version;
    Ok(item)
}

fn endpoint_from(item: &Item) -> Result<Versioned<Endpoint>, StoreError> {
    Ok(Versioned {
        value: decode(item)?,
        version: item.version,
    })
}

pub async fn create_endpoint(store: &dyn ItemStore, e: &Endpoint) -> Result<(), StoreError> {
    create_endpoint_with(store, e, Vec::new()).await
}

/// [`create_endpoint`] with `extra` ops in the same atomic write (e.g. its audit entry).
pub async fn create_endpoint_with(
    store: &dyn ItemStore,
    e: &Endpoint,
    extra: Vec<WriteOp>,
) -> Result<(), StoreError> {
    let mut ops = vec![WriteOp::put(endpoint_item(e, 1)?, Condition::NotExists)];
    ops.extend(extra);
    store.write(ops).await
}

pub async fn get_endpoint(
    store: &dyn ItemStore,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<Versioned<Endpoint>>, StoreError> {
    get_with(store, &wk::endpoints_pk(tenant), id, endpoint_from).await
}

/// Writes `e` over the version read; `ConditionFailed` when it changed meanwhile.
pub async fn replace_endpoint(
    store: &dyn ItemStore,
    e: &Endpoint,
    read_version: u64,
) -> Result<u64, StoreError> {
    replace_endpoint_with(store, e, read_version, Vec::new()).await
}

/// [`replace_endpoint`] with `extra` ops in the same atomic write.
pub async fn replace_endpoint_with(
    store: &dyn ItemStore,
    e: &Endpoint,
    read_version: u64,
    extra: Vec<WriteOp>,
) -> Result<u64, StoreError> {
    let version = read_version + 1;
    let mut ops = vec![WriteOp::put(
        endpoint_item(e, version)?,
        Condition::Version(read_version),
    )];
    ops.extend(extra);
    store.write(ops).await?;
    Ok(version)
}

/// Deletes the endpoint if it is still at `read_version`, with `extra` ops in the same
/// atomic write; `ConditionFailed` when it changed or went meanwhile.
pub async fn delete_endpoint_with(
    store: &dyn ItemStore,
    tenant: &TenantId,
    id: &str,
    read_version: u64,
    extra: Vec<WriteOp>,
) -> Result<(), StoreError> {
    let mut ops = vec![WriteOp::Delete {
        pk: wk::endpoints_pk(tenant),
        sk: id.to_string(),
        condition: Condition::Version(read_version),
    }];
    ops.extend(extra);
    store.write(ops).await
}

pub async fn delete_endpoint(
    store: &dyn ItemStore,
    tenant: &TenantId,
    id: &str,
) -> Result<bool, StoreError> {
    let delete = WriteOp::Delete {
        pk: wk::endpoints_pk(tenant),
        sk: id.to_string(),
        condition: Condition::Exists,
    };
    write_if(store, vec![delete]).await
}

/// Every endpoint of a tenant (a tenant has few).
pub async fn list_endpoints(
    store: &dyn ItemStore,
    tenant: &TenantId,
) -> Result<Vec<Endpoint>, StoreError> {
    let q = Query::new(Index::Primary, wk::endpoints_pk(tenant)).limit(500);
    collect_all(store, q, |item| Ok(endpoint_from(item)?.value)).await
}

// ----------------------------------------------------------------- messages

pub fn message_item(m: &WebhookMessage, version: u64) -> Result<Item, StoreError> {
    let data = encode(m)?;
    let mut item = Item::new(wk::message_pk(&m.tenant, &m.id), wk::MESSAGE_SK, data);
    item.version = version;
    item.ttl = Some((m.created_at + Duration::days(MESSAGE_TTL_DAYS)).timestamp());
    item.gsi1 = Some(IndexKey::new(
        wk::messages_by_endpoint(&m.tenant, &m.endpoint_id),
        storage_keys::timed(m.created_at, &m.id),
    ));
    if m.status == MessageStatus::Dead {
        item.gsi2 = Some(IndexKey::new(
            wk::dead_letters(&m.tenant),
            storage_keys::timed(m.updated_at, &m.id),
        ));
    }
    Ok(item)
}

fn message_from(item: &Item) -> Result<Versioned<WebhookMessage>, StoreError> {
    Ok(Versioned {
        value: decode(item)?,
        version: item.version,
    })
}

/// Stores a new message; false when it exists already (a repeated fan-out).
pub async fn create_message(store: &dyn ItemStore, m: &WebhookMessage) -> Result<bool, StoreError> {
    let put = WriteOp::put(message_item(m, 1)?, Condition::NotExists);
    write_if(store, vec![put]).await
}

pub async fn get_message(
    store: &dyn ItemStore,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<Versioned<WebhookMessage>>, StoreError> {
    get_with(
        store,
        &wk::message_pk(tenant, id),
        wk::MESSAGE_SK,
        message_from,
    )
    .await
}

pub async fn replace_message(
    store: &dyn ItemStore,
    m: &WebhookMessage,
    read_version: u64,
) -> Result<(), StoreError> {
    store
        .write(vec![WriteOp::put(
            message_item(m, read_version + 1)?,
            Condition::Version(read_version),
        )])
        .await
}

fn attempt_item(m: &WebhookMessage, a: &Attempt) -> Result<Item, StoreError> {
    let data = encode(a)?;
    let mut item = Item::new(
        wk::message_pk(&m.tenant, &m.id),
        wk::attempt_sk(a.number),
        data,
    );
    item.ttl = Some((a.at + Duration::days(MESSAGE_TTL_DAYS)).timestamp());
    Ok(item)
}

/// Records an attempt and the message state after it in one atomic write. Fails with
/// `ConditionFailed` when this attempt number was recorded already or the message
/// changed since it was read (another worker got there first).
pub async fn record_attempt(
    store: &dyn ItemStore,
    m: &WebhookMessage,
    read_version: u64,
    a: &Attempt,
    mut extra: Vec<WriteOp>,
) -> Result<(), StoreError> {
    let mut ops = vec![
        WriteOp::put(
            message_item(m, read_version + 1)?,
            Condition::Version(read_version),
        ),
        WriteOp::put(attempt_item(m, a)?, Condition::NotExists),
    ];
    ops.append(&mut extra);
    store.write(ops).await
}

pub async fn attempts(
    store: &dyn ItemStore,
    tenant: &TenantId,
    msg_id: &str,
) -> Result<Vec<Attempt>, StoreError> {
    let q = Query::new(Index::Primary, wk::message_pk(tenant, msg_id))
        .range(KeyRange::Prefix(wk::ATTEMPT_PREFIX.into()))
        .limit(500);
    let page = store.query(&q).await?;
    page.items
        .iter()
        .map(|i| serde_json::from_value(i.data.clone()).map_err(malformed))
        .collect()
}

pub struct MessagePage {
    pub items: Vec<WebhookMessage>,
    pub next: Option<Cursor>,
}

async fn page_of(store: &dyn ItemStore, q: Query) -> Result<MessagePage, StoreError> {
    let index = q.index;
    let page = store.query(&q).await?;
    let next = page
        .next
        .as_ref()
        .and(page.items.last().map(|i| cursor_for(i, index)));
    Ok(MessagePage {
        items: page
            .items
            .iter()
            .map(|i| message_from(i).map(|v| v.value))
            .collect::<Result<_, _>>()?,
        next,
    })
}

/// The query behind [`messages_for_endpoint`], for checking client cursors against.
pub fn endpoint_messages_query(tenant: &TenantId, endpoint: &str) -> Query {
    Query::new(Index::Gsi1, wk::messages_by_endpoint(tenant, endpoint)).newest_first()
}

/// An endpoint's messages, newest first.
pub async fn messages_for_endpoint(
    store: &dyn ItemStore,
    tenant: &TenantId,
    endpoint: &str,
    limit: usize,
    after: Option<Cursor>,
) -> Result<MessagePage, StoreError> {
    let q = endpoint_messages_query(tenant, endpoint)
        .limit(limit)
        .after(after);
    page_of(store, q).await
}

pub fn dead_letters_query(tenant: &TenantId) -> Query {
    Query::new(Index::Gsi2, wk::dead_letters(tenant)).newest_first()
}

/// The tenant's dead-lettered messages, newest first.
pub async fn dead_letters(
    store: &dyn ItemStore,
    tenant: &TenantId,
    limit: usize,
    after: Option<Cursor>,
) -> Result<MessagePage, StoreError> {
    page_of(store, dead_letters_query(tenant).limit(limit).after(after)).await
}

// ---------------------------------------------------------- fan-out cursor

/// Where the local fan-out has read the embedded bus to.
pub async fn fanout_position(store: &dyn ItemStore) -> Result<(i64, u64), StoreError> {
    Ok(
        match store
            .get(wk::FANOUT_CURSOR_PK, wk::FANOUT_CURSOR_SK)
            .await?
        {
            Some(i) => (
                i.data.get("position").and_then(|p| p.as_i64()).unwrap_or(0),
                i.version,
            ),
            None => (0, 0),
        },
    )
}

pub async fn set_fanout_position(
    store: &dyn ItemStore,
    position: i64,
    read_version: u64,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut item = Item::new(
        wk::FANOUT_CURSOR_PK,
        wk::FANOUT_CURSOR_SK,
        serde_json::json!({"position": position, "updated_at": now}),
    );
    item.version = read_version + 1;
    let condition = if read_version == 0 {
        Condition::NotExists
    } else {
        Condition::Version(read_version)
    };
    store.write(vec![WriteOp::put(item, condition)]).await?;
    Ok(read_version + 1)
}
