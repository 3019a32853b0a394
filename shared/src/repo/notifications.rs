//! In-app notifications under the tenant's partition, newest first.
use super::item::{decode, encode};
use super::storage_keys::{self, notifications as nk};
use crate::domain::TenantId;
use crate::domain::notification::Notification;
use crate::ports::store::{
    Condition, Cursor, Index, IndexKey, Item, ItemStore, KeyRange, Page, Query, StoreError,
    WriteOp, cursor_for,
};

/// Notifications are kept this long.
const TTL_DAYS: i64 = 90;

fn sk(n: &Notification) -> String {
    storage_keys::timed(n.created_at, &n.id)
}

fn from_item(item: &Item) -> Result<Notification, StoreError> {
    decode(item)
}

pub fn to_item(n: &Notification) -> Result<Item, StoreError> {
    let data = encode(n)?;
    let mut item = Item::new(nk::pk(&n.tenant), sk(n), data);
    let flag = if n.read { "0" } else { "1" };
    item.gsi1 = Some(IndexKey::new(
        nk::unread_first(&n.tenant),
        format!("{flag}#{}", sk(n)),
    ));
    item.gsi2 = Some(IndexKey::new(nk::by_id(&n.tenant), n.id.clone()));
    item.ttl = Some((n.created_at + chrono::Duration::days(TTL_DAYS)).timestamp());
    Ok(item)
}

/// The write that stores `n`, for callers that add it to a larger atomic write.
pub fn put_op(n: &Notification) -> Result<WriteOp, StoreError> {
    Ok(WriteOp::put(to_item(n)?, Condition::NotExists))
}

pub async fn create(store: &dyn ItemStore, n: &Notification) -> Result<(), StoreError> {
    store.write(vec![put_op(n)?]).await
}

pub struct NotificationPage {
    pub items: Vec<Notification>,
    pub next: Option<Cursor>,
}

/// A tenant's notifications, newest first. The cursor must be one this partition issued.
pub async fn list(
    store: &dyn ItemStore,
    tenant: &TenantId,
    limit: usize,
    after: Option<Cursor>,
) -> Result<NotificationPage, StoreError> {
    let q = Query::new(Index::Primary, nk::pk(tenant))
        .newest_first()
        .limit(limit)
        .after(after);
    page_of(store.query(&q).await?, Index::Primary)
}

/// A store page as a page of notifications, continuing after its last item on `index`.
fn page_of(page: Page, index: Index) -> Result<NotificationPage, StoreError> {
    let next = page
        .next
        .as_ref()
        .and(page.items.last().map(|i| cursor_for(i, index)));
    Ok(NotificationPage {
        items: page.items.iter().map(from_item).collect::<Result<_, _>>()?,
        next,
    })
}

/// Marks one notification read; false when the tenant has no such notification.
pub async fn mark_read(
    store: &dyn ItemStore,
    tenant: &TenantId,
    id: &str,
) -> Result<bool, StoreError> {
    // Ids are time-ordered, but the sort key holds the time: find it by a bounded scan.
    let mut q = Query::new(Index::Primary, nk::pk(tenant))
        .newest_first()
        .limit(200);
    loop {
        let page = store.query(&q).await?;
        if let Some(item) = page
            .items
            .iter()
            .find(|i| i.sk.ends_with(&format!("#{id}")))
        {
            let mut n = from_item(item)?;
            if n.read {
                return Ok(true);
            }
            n.read = true;
            let mut next = to_item(&n)?;
            next.version = item.version + 1;
            store
                .write(vec![WriteOp::put(next, Condition::Version(item.version))])
                .await?;
            return Ok(true);
        }
        match page.next {
            Some(c) => q.after = Some(c),
            None => return Ok(false),
        }
    }
}

/// Unread notifications first, then read ones, each newest first.
pub fn unread_first_query(tenant: &TenantId) -> Query {
    Query::new(Index::Gsi1, nk::unread_first(tenant)).newest_first()
}

pub async fn list_unread_first(
    store: &dyn ItemStore,
    tenant: &TenantId,
    limit: usize,
    after: Option<Cursor>,
) -> Result<NotificationPage, StoreError> {
    let q = unread_first_query(tenant).limit(limit).after(after);
    page_of(store.query(&q).await?, Index::Gsi1)
}

/// Finds a notification by id through the id index.
async fn find(
    store: &dyn ItemStore,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<Item>, StoreError> {
    let q = Query::new(Index::Gsi2, nk::by_id(tenant))
        .range(KeyRange::Between(id.to_string(), id.to_string()))
        .limit(1);
    let Some(hit) = store.query(&q).await?.items.into_iter().next() else {
        return Ok(None);
    };
    // The index is eventually consistent; the item itself is read from the table.
    store.get(&hit.pk, &hit.sk).await
}

/// Marks one notification read and returns it; None when the tenant has no such id.
pub async fn set_read(
    store: &dyn ItemStore,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<Notification>, StoreError> {
    crate::retry::on_conflict(move || async move {
        let Some(item) = find(store, tenant, id).await? else {
            return Ok(None);
        };
        let mut n = from_item(&item)?;
        if n.read {
            return Ok(Some(n));
        }
        n.read = true;
        let mut next = to_item(&n)?;
        next.version = item.version + 1;
        next.ttl = item.ttl;
        store
            .write(vec![WriteOp::put(next, Condition::Version(item.version))])
            .await?;
        Ok(Some(n))
    })
    .await
}

/// Marks every unread notification read; returns how many changed.
pub async fn mark_all_read(store: &dyn ItemStore, tenant: &TenantId) -> Result<usize, StoreError> {
    let mut changed = 0;
    loop {
        let q = Query::new(Index::Gsi1, nk::unread_first(tenant))
            .range(KeyRange::Prefix("1#".into()))
            .limit(25);
        let page = store.query(&q).await?;
        if page.items.is_empty() {
            return Ok(changed);
        }
        let mut ops = Vec::with_capacity(page.items.len());
        for item in &page.items {
            // Read from the table: the index may lag behind a concurrent change.
            let Some(current) = store.get(&item.pk, &item.sk).await? else {
                continue;
            };
            let mut n = from_item(&current)?;
            if n.read {
                continue;
            }
            n.read = true;
            let mut next = to_item(&n)?;
            next.version = current.version + 1;
            next.ttl = current.ttl;
            ops.push(WriteOp::put(next, Condition::Version(current.version)));
        }
        if ops.is_empty() {
            // Only stale index entries are left.
            return Ok(changed);
        }
        let n = ops.len();
        match store.write(ops).await {
            Ok(()) => changed += n,
            Err(StoreError::ConditionFailed { .. } | StoreError::Conflict) => continue,
            Err(e) => return Err(e),
        }
    }
}
