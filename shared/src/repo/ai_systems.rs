//! Stored AI systems: one item each, a name reservation per tenant, and indexes for
//! listing (all, by risk level) and for re-classification (monitored systems).
//! The item version is the API's ETag.
use super::item::{decode, encode, get_with};
use super::page::{Filtered, query_filtered};
use super::storage_keys::ai_systems as k;
use crate::classifier::RiskLevel;
use crate::domain::TenantId;
use crate::domain::ai_system::AiSystem;
use crate::ports::store::{
    Condition, Cursor, Index, IndexKey, Item, ItemStore, Page, Query, StoreError, WriteOp,
};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("an AI system named '{0}' already exists")]
    NameTaken(String),
    /// The stored version is not the one the change was based on.
    #[error("the AI system changed since it was read")]
    VersionMismatch,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A system with the version it was read at.
#[derive(Debug, Clone)]
pub struct Versioned {
    pub system: AiSystem,
    pub version: u64,
}

pub fn to_item(s: &AiSystem, version: u64) -> Result<Item, StoreError> {
    let data = encode(s)?;
    let t = &s.tenant;
    let mut item = Item::new(k::system_pk(t, &s.id), k::SYSTEM_SK, data);
    item.version = version;
    if !s.archived {
        item.gsi1 = Some(IndexKey::new(k::all(t), s.id.clone()));
        item.gsi2 = s
            .level()
            .map(|l| IndexKey::new(k::by_level(t, l.as_str()), s.id.clone()));
    }
    if s.is_monitored() {
        item.gsi3 = Some(IndexKey::new(k::monitored(t), s.id.clone()));
    }
    Ok(item)
}

pub fn from_item(item: &Item) -> Result<AiSystem, StoreError> {
    decode(item)
}

pub async fn get(
    store: &dyn ItemStore,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<Versioned>, StoreError> {
    get_with(store, &k::system_pk(tenant, id), k::SYSTEM_SK, |i| {
        Ok(Versioned {
            system: from_item(i)?,
            version: i.version,
        })
    })
    .await
}

fn name_item(s: &AiSystem) -> Item {
    Item::new(
        k::name_pk(&s.tenant, &s.name),
        k::NAME_SK,
        serde_json::json!({"system_id": s.id}),
    )
}

/// The system as the API and the audit log show it: the record plus its version.
pub fn snapshot(s: &AiSystem, version: u64) -> serde_json::Value {
    let mut out = serde_json::to_value(s).unwrap_or(serde_json::Value::Null);
    if let Some(o) = out.as_object_mut() {
        o.insert("version".into(), serde_json::json!(version));
    }
    out
}

/// Maps a failed write. A condition failing in the caller's `extra` ops (from index
/// `extra_from`, e.g. the audit head) stays a store error, for the caller to retry.
fn map_conflict(
    e: StoreError,
    name_op: Option<usize>,
    name: &str,
    extra_from: usize,
) -> RegistryError {
    match e {
        StoreError::ConditionFailed { op } if Some(op) == name_op => {
            RegistryError::NameTaken(name.to_string())
        }
        StoreError::ConditionFailed { op } if op >= extra_from => RegistryError::Store(e),
        StoreError::ConditionFailed { .. } | StoreError::Conflict => RegistryError::VersionMismatch,
        other => RegistryError::Store(other),
    }
}

/// Stores a new system, reserving its name and registering the tenant for the sweep.
pub async fn create(store: &dyn ItemStore, s: &AiSystem) -> Result<(), RegistryError> {
    create_with(store, s, Vec::new()).await
}

/// [`create`] with `extra` ops in the same atomic write (e.g. its audit entry).
pub async fn create_with(
    store: &dyn ItemStore,
    s: &AiSystem,
    extra: Vec<WriteOp>,
) -> Result<(), RegistryError> {
    let mut tenant = Item::new(
        k::tenant_pk(&s.tenant),
        k::TENANT_SK,
        serde_json::json!({"tenant": s.tenant}),
    );
    tenant.gsi1 = Some(IndexKey::new(k::TENANTS_INDEX, s.tenant.to_string()));
    let mut ops = vec![
        WriteOp::put(to_item(s, 1)?, Condition::NotExists),
        WriteOp::put(name_item(s), Condition::NotExists),
        WriteOp::put(tenant, Condition::None),
    ];
    let extra_from = ops.len();
    ops.extend(extra);
    store
        .write(ops)
        .await
        .map_err(|e| map_conflict(e, Some(1), &s.name, extra_from))
}

fn same_name(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

/// Writes `after` over `before` if it is still the stored version; moves the name
/// reservation with a rename and frees it on archive. Returns the new version.
pub async fn replace(
    store: &dyn ItemStore,
    before: &Versioned,
    after: &AiSystem,
) -> Result<u64, RegistryError> {
    replace_with(store, before, after, Vec::new()).await
}

/// [`replace`] with `extra` ops in the same atomic write (e.g. its audit entry).
pub async fn replace_with(
    store: &dyn ItemStore,
    before: &Versioned,
    after: &AiSystem,
    extra: Vec<WriteOp>,
) -> Result<u64, RegistryError> {
    let version = before.version + 1;
    let mut ops = vec![WriteOp::put(
        to_item(after, version)?,
        Condition::Version(before.version),
    )];
    let b = &before.system;
    let held_before = !b.archived;
    let held_after = !after.archived;
    let renamed = !same_name(&b.name, &after.name);
    let mut name_op = None;
    if held_before && (!held_after || renamed) {
        ops.push(WriteOp::Delete {
            pk: k::name_pk(&b.tenant, &b.name),
            sk: k::NAME_SK.into(),
            condition: Condition::None,
        });
    }
    if held_after && (!held_before || renamed) {
        name_op = Some(ops.len());
        ops.push(WriteOp::put(name_item(after), Condition::NotExists));
    }
    let extra_from = ops.len();
    ops.extend(extra);
    store
        .write(ops)
        .await
        .map_err(|e| map_conflict(e, name_op, &after.name, extra_from))?;
    Ok(version)
}

#[derive(Debug, Clone, Default)]
pub struct SystemFilter {
    pub level: Option<RiskLevel>,
    pub monitoring: Option<bool>,
}

pub fn list_query(tenant: &TenantId, f: &SystemFilter) -> Query {
    match (f.level, f.monitoring) {
        (Some(l), _) => Query::new(Index::Gsi2, k::by_level(tenant, l.as_str())),
        (None, Some(true)) => Query::new(Index::Gsi3, k::monitored(tenant)),
        _ => Query::new(Index::Gsi1, k::all(tenant)),
    }
    .newest_first()
}

pub async fn list(
    store: &dyn ItemStore,
    tenant: &TenantId,
    f: &SystemFilter,
    limit: usize,
    after: Option<Cursor>,
) -> Result<Filtered, StoreError> {
    let q = list_query(tenant, f).after(after);
    let want = f.monitoring;
    query_filtered(store, q, limit, 20_000, move |item| {
        let enabled = item
            .data
            .pointer("/monitoring/monitoring_enabled")
            .and_then(|v| v.as_bool())
            .unwrap_or(true);
        want.is_none_or(|w| w == enabled)
    })
    .await
}

/// One page of the systems a run scans, oldest first.
pub async fn monitored_page(
    store: &dyn ItemStore,
    tenant: &TenantId,
    limit: usize,
    after: Option<Cursor>,
) -> Result<Page, StoreError> {
    store
        .query(
            &Query::new(Index::Gsi3, k::monitored(tenant))
                .limit(limit)
                .after(after),
        )
        .await
}

/// One page of tenants that have registered AI systems.
pub async fn tenants_page(
    store: &dyn ItemStore,
    limit: usize,
    after: Option<Cursor>,
) -> Result<(Vec<TenantId>, Option<Cursor>), StoreError> {
    let page = store
        .query(
            &Query::new(Index::Gsi1, k::TENANTS_INDEX)
                .limit(limit)
                .after(after),
        )
        .await?;
    let tenants = page
        .items
        .iter()
        .filter_map(|i| i.gsi1.as_ref().and_then(|g| TenantId::parse(&g.sk).ok()))
        .collect();
    Ok((tenants, page.next))
}
