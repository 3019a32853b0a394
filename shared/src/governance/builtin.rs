//! The versions every tenant starts with, so governed enrichment behaves as it did
//! before the registry: the built-in enrichment prompt and, where the deployment
//! configures a model, that model, both registered and approved by `system:governance`.
//! They are registered once per tenant (a marker item says so): a tenant's later
//! retirement or rejection of them stands.
use chrono::{DateTime, Utc};
use serde_json::{Map, json};

use super::registry::{ENRICHMENT, ModelSpec, PromptSpec, Spec};
use crate::domain::TenantId;
use crate::enrich::LlmConfig;
use crate::ports::{ItemStore, StoreError};
use crate::repo::governance as repo;
use crate::retry::on_conflict;
use crate::service::{Origin, governance::register_approved};

pub const PROMPT_NAME: &str = "finding-risk-assessment";
pub const PROMPT_VERSION: &str = "builtin-1";
/// The version the deployment's configured model is registered as.
pub const MODEL_VERSION: &str = "deployment";

const SYSTEM: &str = "You are a careful security risk analyst.";
const TEMPLATE: &str = "You are a security and compliance risk analyst. Assess this finding from a security \
monitoring system. Return ONLY a JSON object {\"risk_score\": <integer 0-100>, \
\"explanation\": \"<2-3 plain sentences naming the evidence>\"}.\n\nFinding:\n{{finding}}";

/// The built-in enrichment prompt.
pub fn prompt() -> PromptSpec {
    PromptSpec::new(PROMPT_NAME, PROMPT_VERSION, SYSTEM, TEMPLATE, ENRICHMENT)
}

/// The deployment's configured model as a registry version.
pub fn model(config: &LlmConfig) -> ModelSpec {
    let mut parameters = Map::new();
    parameters.insert("temperature".into(), json!(0.2));
    ModelSpec {
        provider: "openai-compatible".into(),
        name: config.model.clone(),
        version: MODEL_VERSION.into(),
        endpoint: config.url.clone(),
        parameters,
        purpose: ENRICHMENT.into(),
    }
}

/// Registers one built-in; an earlier registration of the same `(name, version)` (a
/// seeder that stopped half way, or a racing one) or an existing marker counts as done.
async fn seed_one(
    store: &dyn ItemStore,
    origin: &Origin,
    spec: Spec,
    with_marker: bool,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let tenant = &origin.tenant;
    let spec = &spec;
    on_conflict(move || async move {
        let extra = if with_marker {
            vec![repo::builtin_marker_op(tenant)]
        } else {
            Vec::new()
        };
        match register_approved(store, origin, spec.clone(), extra, now).await {
            // Op 1 is the reservation: the version is there already; the marker (op 2)
            // still has to be.
            Err(StoreError::ConditionFailed { op: 1 }) if with_marker => {
                match store.write(vec![repo::builtin_marker_op(tenant)]).await {
                    Err(StoreError::ConditionFailed { .. }) => Ok(()),
                    other => other,
                }
            }
            Err(StoreError::ConditionFailed { op }) if (1..=2).contains(&op) => Ok(()),
            other => other.map(|_| ()),
        }
    })
    .await
}

/// Registers the built-ins for `tenant` unless that was ever done; `model` is the
/// deployment's model, if it has one. True when this call registered them.
pub async fn ensure(
    store: &dyn ItemStore,
    tenant: &TenantId,
    model: Option<&ModelSpec>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    if repo::builtin_seeded(store, tenant).await? {
        return Ok(false);
    }
    let origin = Origin::system(tenant.clone(), "governance");
    if let Some(m) = model {
        seed_one(store, &origin, Spec::Model(m.clone()), false, now).await?;
    }
    // The marker goes with the last one, so a stop half way seeds again next time.
    seed_one(store, &origin, Spec::Prompt(prompt()), true, now).await?;
    Ok(true)
}
