//! Cursor pagination over store queries, with in-memory filters for the attributes no
//! index covers.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::ports::store::{Cursor, Item, ItemStore, Query, StoreError, cursor_for};

/// An opaque page token for API clients.
pub fn encode_cursor(c: &Cursor) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(c).unwrap_or_default())
}

#[derive(Debug, thiserror::Error)]
#[error("cursor is not one this API issued")]
pub struct BadCursor;

pub fn decode_cursor(s: &str) -> Result<Cursor, BadCursor> {
    let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| BadCursor)?;
    serde_json::from_slice(&bytes).map_err(|_| BadCursor)
}

/// Checks that a client cursor stays inside the queried partition: a forged cursor
/// must not move a query to another tenant's keys.
pub fn cursor_in_partition(c: &Cursor, query: &Query) -> bool {
    match &c.index {
        Some(ik) => ik.pk == query.pk,
        None => c.pk == query.pk,
    }
}

/// Whether `item`'s string field `name` is `wanted`; true when nothing is wanted. The
/// in-memory half of a list filter.
pub fn field_is(item: &Item, name: &str, wanted: Option<&str>) -> bool {
    wanted.is_none_or(|w| item.data.get(name).and_then(|v| v.as_str()) == Some(w))
}

pub struct Filtered {
    pub items: Vec<Item>,
    pub next: Option<Cursor>,
}

/// Reads pages until `limit` items pass `keep` or `max_scan` items were examined.
pub async fn query_filtered(
    store: &dyn ItemStore,
    mut query: Query,
    limit: usize,
    max_scan: usize,
    keep: impl Fn(&Item) -> bool,
) -> Result<Filtered, StoreError> {
    let limit = limit.max(1);
    let mut items = Vec::new();
    let mut scanned = 0;
    loop {
        query.limit = (limit - items.len())
            .max(25)
            .min(max_scan.saturating_sub(scanned).max(1));
        let page = store.query(&query).await?;
        let mut last = None;
        for item in page.items {
            scanned += 1;
            last = Some(cursor_for(&item, query.index));
            if keep(&item) {
                items.push(item);
                if items.len() == limit {
                    return Ok(Filtered { items, next: last });
                }
            }
        }
        match page.next {
            Some(next) if scanned < max_scan => query.after = Some(next),
            Some(_) => return Ok(Filtered { items, next: last }),
            None => return Ok(Filtered { items, next: None }),
        }
    }
}

/// Reads every page of `query`, handing each item to `each` in order; stops at the
/// first error.
pub async fn for_each_item(
    store: &dyn ItemStore,
    mut query: Query,
    mut each: impl FnMut(Item) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    loop {
        let page = store.query(&query).await?;
        for item in page.items {
            each(item)?;
        }
        match page.next {
            Some(next) => query.after = Some(next),
            None => return Ok(()),
        }
    }
}

/// Every item of `query`, decoded by `decode`.
pub async fn collect_all<T>(
    store: &dyn ItemStore,
    query: Query,
    mut decode: impl FnMut(&Item) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    for_each_item(store, query, |item| {
        out.push(decode(&item)?);
        Ok(())
    })
    .await?;
    Ok(out)
}
