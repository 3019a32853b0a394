//! The AI-system registry: create, replace, merge-patch, archive and monitoring
//! settings, each audited in the same write. A client that pinned a version with
//! `If-Match` gets [`ServiceError::PreconditionFailed`] once the system has moved on.
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Origin, ServiceError};
use crate::domain::ai_system::AiSystem;
use crate::domain::{AiSystemSpec, FieldError};
use crate::ports::{ItemStore, StoreError};
use crate::repo::ai_systems::{self, RegistryError, Versioned};
use crate::retry::on_conflict;

impl From<RegistryError> for ServiceError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::NameTaken(n) => ServiceError::Taken(FieldError::new(
                "name",
                format!("an AI system named '{n}' already exists"),
            )),
            // Someone else wrote first: the retry helper reads again.
            RegistryError::VersionMismatch => ServiceError::Store(StoreError::Conflict),
            RegistryError::Store(s) => ServiceError::Store(s),
        }
    }
}

/// Registers a system, classified at once if the spec has answers. Audited as
/// `ai_system.create`.
pub async fn create(
    store: &dyn ItemStore,
    origin: &Origin,
    spec: AiSystemSpec,
    now: DateTime<Utc>,
) -> Result<Versioned, ServiceError> {
    let v = Versioned {
        system: AiSystem::create(&origin.tenant, spec, now),
        version: 1,
    };
    let draft = origin
        .draft("ai_system.create", "ai_system", &v.system.id)
        .after(&ai_systems::snapshot(&v.system, v.version));
    let (v, draft) = (&v, &draft);
    // The id is fresh, so a lost race can only be the ledger's.
    on_conflict(move || async move {
        let ledger = crate::audit::prepare(store, &origin.tenant, draft, now).await?;
        ai_systems::create_with(store, &v.system, ledger.ops).await?;
        Ok::<(), ServiceError>(())
    })
    .await?;
    Ok(v.clone())
}

/// What a change to a stored system does.
#[derive(Debug, Clone)]
pub enum Change {
    /// PUT: every editable field takes the spec's value.
    Replace(AiSystemSpec),
    /// PATCH: an RFC 7396 merge patch over the editable fields.
    Patch(Value),
    /// PATCH of the monitoring settings alone.
    Monitoring(Value),
    /// DELETE: the system leaves listings and monitoring, and frees its name.
    Archive,
}

impl Change {
    fn action(&self) -> &'static str {
        match self {
            Change::Replace(_) => "ai_system.replace",
            Change::Patch(_) => "ai_system.update",
            Change::Monitoring(_) => "ai_system.update_monitoring",
            Change::Archive => "ai_system.archive",
        }
    }

    /// The system after the change; the current one when it changes nothing.
    fn apply(&self, current: &AiSystem, now: DateTime<Utc>) -> Result<AiSystem, ServiceError> {
        let mut next = current.clone();
        if current.archived {
            return match self {
                Change::Archive => Ok(next),
                _ => Err(ServiceError::Conflict(
                    "the AI system is archived and cannot be changed".into(),
                )),
            };
        }
        match self {
            Change::Replace(spec) => next.apply(spec.clone(), now),
            Change::Patch(patch) => {
                let spec = AiSystemSpec::patched(current, patch).map_err(ServiceError::Invalid)?;
                next.apply(spec, now);
            }
            Change::Monitoring(patch) => {
                next.monitoring = current
                    .monitoring
                    .patched(patch)
                    .map_err(ServiceError::Invalid)?;
                if next.monitoring != current.monitoring {
                    next.updated_at = now;
                }
            }
            Change::Archive => {
                next.archived = true;
                next.updated_at = now;
            }
        }
        Ok(next)
    }
}

/// Reads, changes and writes the system under its version with the audit entry in the
/// same write. `wanted`: the versions the client's `If-Match` accepts, if it sent one
/// (empty: no version can match).
pub async fn update(
    store: &dyn ItemStore,
    origin: &Origin,
    id: &str,
    wanted: Option<&[u64]>,
    change: &Change,
    now: DateTime<Utc>,
) -> Result<Versioned, ServiceError> {
    on_conflict(move || async move {
        let current = ai_systems::get(store, &origin.tenant, id)
            .await?
            .ok_or(ServiceError::NotFound("AI system"))?;
        if wanted.is_some_and(|v| !v.contains(&current.version)) {
            return Err(ServiceError::PreconditionFailed {
                current: current.version,
            });
        }
        let next = change.apply(&current.system, now)?;
        if next == current.system {
            return Ok(current);
        }
        let draft = origin
            .draft(change.action(), "ai_system", id)
            .before(&ai_systems::snapshot(&current.system, current.version))
            .after(&ai_systems::snapshot(&next, current.version + 1));
        let ledger = crate::audit::prepare(store, &origin.tenant, &draft, now).await?;
        let version = ai_systems::replace_with(store, &current, &next, ledger.ops).await?;
        Ok(Versioned {
            system: next,
            version,
        })
    })
    .await
}
