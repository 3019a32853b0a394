//! The enforcement gate: the one way code reads a model's settings or a prompt's text.
//! It answers the tenant's most recently approved version for a purpose, or why there
//! is none (the newest version for the purpose is still pending, rejected or retired, or
//! nothing is registered). A caller that is refused must not go ahead with the model or
//! prompt: it falls back or refuses, and records the block ([`Blocked::audit_draft`]).
use serde::Serialize;

use super::registry::{Kind, ModelSpec, PromptSpec, Registered, State};
use crate::audit::{Actor, AuditDraft, Outcome};
use crate::domain::TenantId;
use crate::ports::{ItemStore, StoreError};
use crate::repo::governance as repo;

/// The audit action of a blocked use.
pub const VIOLATION_ACTION: &str = "GOVERNANCE_VIOLATION";

/// An approved model version, as the gate hands it out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApprovedModel {
    pub id: String,
    #[serde(flatten)]
    pub spec: ModelSpec,
}

/// An approved prompt version, as the gate hands it out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApprovedPrompt {
    pub id: String,
    #[serde(flatten)]
    pub spec: PromptSpec,
}

/// Why the gate refused: what was asked for and what it found instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Blocked {
    /// The newest version for the purpose awaits submission or a decision.
    #[error("{kind:?} {id} for {purpose} is {state:?}, not approved")]
    NotApproved {
        kind: Kind,
        purpose: String,
        id: String,
        state: State,
    },
    #[error("{kind:?} {id} for {purpose} was rejected")]
    Rejected {
        kind: Kind,
        purpose: String,
        id: String,
    },
    #[error("{kind:?} {id} for {purpose} is retired")]
    Retired {
        kind: Kind,
        purpose: String,
        id: String,
    },
    #[error("no {kind:?} is registered for {purpose}")]
    Missing { kind: Kind, purpose: String },
    /// The approved model names an endpoint other than the one this deployment calls
    /// (and holds the credential for): using it would send data elsewhere.
    #[error("model {id} for {purpose} names endpoint {endpoint}, not this deployment's")]
    EndpointMismatch {
        kind: Kind,
        purpose: String,
        id: String,
        endpoint: String,
    },
}

impl Blocked {
    pub fn kind(&self) -> Kind {
        match self {
            Blocked::NotApproved { kind, .. }
            | Blocked::Rejected { kind, .. }
            | Blocked::Retired { kind, .. }
            | Blocked::Missing { kind, .. }
            | Blocked::EndpointMismatch { kind, .. } => *kind,
        }
    }

    /// The `GOVERNANCE_VIOLATION` audit entry naming what was blocked, by `actor` (the
    /// component that tried), on `resource` (what it was working on).
    pub fn audit_draft(
        &self,
        actor: Actor,
        resource_type: &str,
        resource_id: &str,
        request_id: Option<String>,
    ) -> AuditDraft {
        AuditDraft::new(actor, VIOLATION_ACTION, resource_type, resource_id)
            .request_id(request_id)
            .outcome(Outcome::Denied)
            .after(&serde_json::json!({"blocked": self}))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("blocked: {0}")]
    Blocked(#[from] Blocked),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why nothing approved was found: the state of the newest version for the purpose.
async fn refusal(
    store: &dyn ItemStore,
    tenant: &TenantId,
    kind: Kind,
    purpose: &str,
) -> Result<Blocked, StoreError> {
    let purpose_s = purpose.to_string();
    Ok(
        match repo::newest_for_purpose(store, tenant, kind, purpose).await? {
            None => Blocked::Missing {
                kind,
                purpose: purpose_s,
            },
            Some(Registered { id, state, .. }) => match state {
                State::Rejected => Blocked::Rejected {
                    kind,
                    purpose: purpose_s,
                    id,
                },
                State::Retired => Blocked::Retired {
                    kind,
                    purpose: purpose_s,
                    id,
                },
                state => Blocked::NotApproved {
                    kind,
                    purpose: purpose_s,
                    id,
                    state,
                },
            },
        },
    )
}

async fn approved(
    store: &dyn ItemStore,
    tenant: &TenantId,
    kind: Kind,
    purpose: &str,
) -> Result<Registered, GateError> {
    match repo::approved(store, tenant, kind, purpose).await? {
        // The index only holds approved versions; the state check guards a stale entry.
        Some(r) if r.state == State::Approved => Ok(r),
        _ => Err(refusal(store, tenant, kind, purpose).await?.into()),
    }
}

/// The tenant's approved model for `purpose`.
pub async fn approved_model(
    store: &dyn ItemStore,
    tenant: &TenantId,
    purpose: &str,
) -> Result<ApprovedModel, GateError> {
    let r = approved(store, tenant, Kind::Model, purpose).await?;
    match r.spec {
        super::registry::Spec::Model(spec) => Ok(ApprovedModel { id: r.id, spec }),
        super::registry::Spec::Prompt(_) => Err(StoreError::Malformed(format!(
            "{} is indexed as a model but holds a prompt",
            r.id
        ))
        .into()),
    }
}

/// The tenant's approved prompt for `purpose`.
pub async fn approved_prompt(
    store: &dyn ItemStore,
    tenant: &TenantId,
    purpose: &str,
) -> Result<ApprovedPrompt, GateError> {
    let r = approved(store, tenant, Kind::Prompt, purpose).await?;
    match r.spec {
        super::registry::Spec::Prompt(spec) => Ok(ApprovedPrompt { id: r.id, spec }),
        super::registry::Spec::Model(_) => Err(StoreError::Malformed(format!(
            "{} is indexed as a prompt but holds a model",
            r.id
        ))
        .into()),
    }
}
