//! The use cases. Each one loads what it needs, applies a domain change, builds its
//! audit entry and writes once, conditionally, through [`crate::retry::on_conflict`].
//! Routes and stage handlers parse their input, call one function here and render the
//! result; the repo layer below only maps domain values to stored items and back.
pub mod ai_systems;
pub mod api_keys;
pub mod decisions;
pub mod drift;
pub mod findings;
pub mod governance;
pub mod reclassify_runs;
pub mod sources;
pub mod webhooks;

use chrono::{DateTime, Utc};

use crate::audit::{self, Actor, AuditDraft, AuditEntry};
use crate::domain::{FieldError, TenantId};
use crate::ports::{ItemStore, QueueError, StoreError, WriteOp};
use crate::retry::Contention;

/// On whose behalf a use case runs: the tenant, who acts, and the request that caused
/// it, which every audit entry the use case writes records.
#[derive(Debug, Clone)]
pub struct Origin {
    pub tenant: TenantId,
    pub actor: Actor,
    pub request_id: Option<String>,
}

impl Origin {
    /// A caller holding the API key `key_id`.
    pub fn key(tenant: TenantId, key_id: &str, request_id: Option<String>) -> Self {
        Self {
            tenant,
            actor: Actor::key(key_id),
            request_id,
        }
    }

    /// A system component acting by itself (a schedule, a stage).
    pub fn system(tenant: TenantId, component: &str) -> Self {
        Self {
            tenant,
            actor: Actor::system(component),
            request_id: None,
        }
    }

    /// The audit entry of `action` on a resource, by this origin.
    pub fn draft(&self, action: &str, resource_type: &str, resource_id: &str) -> AuditDraft {
        AuditDraft::new(self.actor.clone(), action, resource_type, resource_id)
            .request_id(self.request_id.clone())
    }
}

/// Writes `ops` and the audit entry of `draft` in one atomic write: the change and its
/// record exist together or not at all. The audit ops go last, so a failed condition's
/// index still points into `ops`.
pub async fn commit(
    store: &dyn ItemStore,
    tenant: &TenantId,
    draft: &AuditDraft,
    mut ops: Vec<WriteOp>,
    now: DateTime<Utc>,
) -> Result<AuditEntry, StoreError> {
    let prepared = audit::prepare(store, tenant, draft, now).await?;
    ops.extend(prepared.ops);
    store.write(ops).await?;
    Ok(prepared.entry)
}

/// Why a use case did not happen. The HTTP layer maps each to one status.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("no such {0}")]
    NotFound(&'static str),
    #[error("the request has invalid fields")]
    Invalid(Vec<FieldError>),
    /// The resource's state forbids the change (it is archived, say).
    #[error("{0}")]
    Conflict(String),
    /// A value that must be unique is already in use.
    #[error("{}: {}", .0.field, .0.message)]
    Taken(FieldError),
    /// The caller pinned a version (`If-Match`) that is no longer current.
    #[error("the resource is at version {current}; the request named another")]
    PreconditionFailed { current: u64 },
    /// A rule forbids this caller the change (four eyes: nobody decides what they
    /// submitted).
    #[error("{0}")]
    Denied(String),
    /// A deployment setting the use case needs is missing.
    #[error("{0} is not configured")]
    NotConfigured(&'static str),
    #[error("cannot seal or open a webhook secret")]
    Secret(#[from] crate::webhooks::endpoint::EndpointSecretError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Bus(#[from] crate::ports::BusError),
}

impl ServiceError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ServiceError::Invalid(vec![FieldError::new(field, message)])
    }
}

impl Contention for ServiceError {
    fn is_contention(&self) -> bool {
        matches!(self, ServiceError::Store(e) if e.is_contention())
    }

    fn exhausted() -> Self {
        ServiceError::Store(StoreError::exhausted())
    }
}
