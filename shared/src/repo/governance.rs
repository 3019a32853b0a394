//! Stored model and prompt versions: one item each, a `(name, version)` reservation,
//! and indexes for listing (all, by state), the newest per purpose and the approved per
//! purpose (the gate's read). The item version backs the conditional writes.
use super::item::{decode, encode, get_with};
use super::storage_keys::governance as k;
use crate::domain::TenantId;
use crate::domain::event::time_key;
use crate::governance::registry::{Kind, Registered, State};
use crate::ports::store::{
    Condition, Cursor, Index, IndexKey, Item, ItemStore, Page, Query, StoreError, WriteOp,
};

/// A version with the item version it was read at.
#[derive(Debug, Clone)]
pub struct Versioned {
    pub record: Registered,
    pub version: u64,
}

pub fn to_item(tenant: &TenantId, r: &Registered, version: u64) -> Result<Item, StoreError> {
    let kind = r.kind().as_str();
    let mut item = Item::new(
        k::version_pk(tenant, kind, &r.id),
        k::VERSION_SK,
        encode(r)?,
    );
    item.version = version;
    item.gsi1 = Some(IndexKey::new(k::all(tenant, kind), r.id.clone()));
    item.gsi2 = Some(IndexKey::new(
        k::by_state(tenant, kind, r.state.as_str()),
        r.id.clone(),
    ));
    item.gsi3 = Some(IndexKey::new(
        k::by_purpose(tenant, kind, r.spec.purpose()),
        r.id.clone(),
    ));
    if let (State::Approved, Some(at)) = (r.state, r.approved_at) {
        item.gsi4 = Some(IndexKey::new(
            k::approved(tenant, kind, r.spec.purpose()),
            format!("{}#{}", time_key(at), r.id),
        ));
    }
    Ok(item)
}

pub fn from_item(item: &Item) -> Result<Registered, StoreError> {
    decode(item)
}

pub async fn get(
    store: &dyn ItemStore,
    tenant: &TenantId,
    kind: Kind,
    id: &str,
) -> Result<Option<Versioned>, StoreError> {
    let found = get_with(
        store,
        &k::version_pk(tenant, kind.as_str(), id),
        k::VERSION_SK,
        |i| {
            Ok(Versioned {
                record: from_item(i)?,
                version: i.version,
            })
        },
    )
    .await?;
    // An id of the other registry is not a version of this one.
    Ok(found.filter(|v| v.record.kind() == kind))
}

/// The ops storing a new version and reserving its `(name, version)`; the reservation
/// is op 1, so a failed condition there means the pair is taken.
pub fn create_ops(tenant: &TenantId, r: &Registered) -> Result<Vec<WriteOp>, StoreError> {
    let (name, version) = r.spec.name_version();
    let reservation = Item::new(
        k::name_pk(tenant, r.kind().as_str(), name, version),
        k::NAME_SK,
        serde_json::json!({"id": r.id}),
    );
    Ok(vec![
        WriteOp::put(to_item(tenant, r, 1)?, Condition::NotExists),
        WriteOp::put(reservation, Condition::NotExists),
    ])
}

/// Index of the reservation op in [`create_ops`].
pub const RESERVATION_OP: usize = 1;

/// The write of `after` over the version read.
pub fn replace_op(
    tenant: &TenantId,
    before: &Versioned,
    after: &Registered,
) -> Result<WriteOp, StoreError> {
    Ok(WriteOp::put(
        to_item(tenant, after, before.version + 1)?,
        Condition::Version(before.version),
    ))
}

/// Which versions a list reads: a kind, optionally in one state, newest first.
pub fn list_query(tenant: &TenantId, kind: Kind, state: Option<State>) -> Query {
    match state {
        Some(s) => Query::new(Index::Gsi2, k::by_state(tenant, kind.as_str(), s.as_str())),
        None => Query::new(Index::Gsi1, k::all(tenant, kind.as_str())),
    }
    .newest_first()
}

pub async fn list(
    store: &dyn ItemStore,
    tenant: &TenantId,
    kind: Kind,
    state: Option<State>,
    limit: usize,
    after: Option<Cursor>,
) -> Result<Page, StoreError> {
    store
        .query(&list_query(tenant, kind, state).limit(limit).after(after))
        .await
}

/// The most recently approved version of `kind` for `purpose`.
pub async fn approved(
    store: &dyn ItemStore,
    tenant: &TenantId,
    kind: Kind,
    purpose: &str,
) -> Result<Option<Registered>, StoreError> {
    newest(
        store,
        Index::Gsi4,
        k::approved(tenant, kind.as_str(), purpose),
    )
    .await
}

/// The newest version of `kind` for `purpose`, whatever its state.
pub async fn newest_for_purpose(
    store: &dyn ItemStore,
    tenant: &TenantId,
    kind: Kind,
    purpose: &str,
) -> Result<Option<Registered>, StoreError> {
    newest(
        store,
        Index::Gsi3,
        k::by_purpose(tenant, kind.as_str(), purpose),
    )
    .await
}

async fn newest(
    store: &dyn ItemStore,
    index: Index,
    pk: String,
) -> Result<Option<Registered>, StoreError> {
    let page = store
        .query(&Query::new(index, pk).newest_first().limit(1))
        .await?;
    page.items.first().map(from_item).transpose()
}

/// Whether the built-in versions were ever registered for the tenant.
pub async fn builtin_seeded(store: &dyn ItemStore, tenant: &TenantId) -> Result<bool, StoreError> {
    Ok(store
        .get(&k::builtin_pk(tenant), k::BUILTIN_SK)
        .await?
        .is_some())
}

/// The marker that the built-ins were registered; fails if they already were.
pub fn builtin_marker_op(tenant: &TenantId) -> WriteOp {
    WriteOp::put(
        Item::new(
            k::builtin_pk(tenant),
            k::BUILTIN_SK,
            serde_json::json!({"seeded": true}),
        ),
        Condition::NotExists,
    )
}
