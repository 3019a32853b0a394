//! Risk scoring and explanation of findings: a model when configured and the governance
//! gate approves both the model and the prompt for `enrichment`, else the heuristic.
pub mod heuristic;
pub mod llm;

use chrono::{DateTime, Utc};

use crate::domain::{EnrichedBy, Finding, TenantId};
use crate::governance::registry::ENRICHMENT;
use crate::governance::{ApprovedModel, ApprovedPrompt, Blocked, GateError, Kind, builtin, gate};
use crate::ports::{ItemStore, StoreError};
pub use llm::{LlmClient, LlmConfig};

#[derive(Clone, Default)]
pub struct Enricher {
    llm: Option<LlmClient>,
}

/// What one enrichment came to besides the finding's new fields: the gate's refusal, if
/// it refused the model or the prompt (the finding then holds the heuristic's answer).
pub type Outcome = Option<Blocked>;

impl Enricher {
    pub fn heuristic() -> Self {
        Self { llm: None }
    }

    pub fn with_llm(llm: LlmClient) -> Self {
        Self { llm: Some(llm) }
    }

    /// The model and prompt the gate approves for enrichment in `tenant`, registering
    /// the built-ins first if the tenant never had them.
    pub async fn governed(
        &self,
        store: &dyn ItemStore,
        tenant: &TenantId,
        llm: &LlmClient,
        now: DateTime<Utc>,
    ) -> Result<Result<(ApprovedModel, ApprovedPrompt), Blocked>, StoreError> {
        let mut seeded = false;
        loop {
            let found = async {
                let model = gate::approved_model(store, tenant, ENRICHMENT).await?;
                let prompt = gate::approved_prompt(store, tenant, ENRICHMENT).await?;
                Ok::<_, GateError>((model, prompt))
            }
            .await;
            match found {
                Ok((model, _)) if model.spec.endpoint != llm.endpoint() => {
                    return Ok(Err(Blocked::EndpointMismatch {
                        kind: Kind::Model,
                        purpose: ENRICHMENT.into(),
                        id: model.id,
                        endpoint: model.spec.endpoint,
                    }));
                }
                Ok(pair) => return Ok(Ok(pair)),
                Err(GateError::Store(e)) => return Err(e),
                Err(GateError::Blocked(b @ Blocked::Missing { .. })) if !seeded => {
                    seeded = true;
                    let model = builtin::model(llm.config());
                    if builtin::ensure(store, tenant, Some(&model), now).await? {
                        continue;
                    }
                    return Ok(Err(b));
                }
                Err(GateError::Blocked(b)) => return Ok(Err(b)),
            }
        }
    }

    /// Sets `risk_score`, `ai_explanation`, `enriched_by` and, for a model's answer,
    /// the model and prompt versions on `f`. A store error reading the gate is returned
    /// (the caller retries); a refusal by the gate is the outcome.
    pub async fn enrich(
        &self,
        store: &dyn ItemStore,
        tenant: &TenantId,
        f: &mut Finding,
        now: DateTime<Utc>,
    ) -> Result<Outcome, StoreError> {
        let started = std::time::Instant::now();
        let mut blocked = None;
        let mut used = None;
        let (score, text, by) = match &self.llm {
            Some(llm) => match self.governed(store, tenant, llm, now).await? {
                Err(b) => {
                    tracing::warn!(finding = %f.id, blocked = %b, "governance gate blocked the model or prompt; using the heuristic");
                    crate::telemetry::count_in(
                        crate::telemetry::metric::GOVERNANCE_BLOCKS,
                        b.kind().as_str(),
                        1,
                    );
                    blocked = Some(b);
                    let (s, t) = heuristic::score(f);
                    (s, t, EnrichedBy::Heuristic)
                }
                Ok((model, prompt)) => match llm.assess(f, &model, &prompt).await {
                    Ok((s, t)) => {
                        used = Some((model, prompt));
                        (s, t, EnrichedBy::Llm)
                    }
                    Err(e) => {
                        tracing::warn!(finding = %f.id, error = %e, "model enrichment failed; using the heuristic");
                        crate::telemetry::count(crate::telemetry::metric::ENRICHMENT_FALLBACKS, 1);
                        let (s, t) = heuristic::score(f);
                        (s, t, EnrichedBy::Heuristic)
                    }
                },
            },
            None => {
                let (s, t) = heuristic::score(f);
                (s, t, EnrichedBy::Heuristic)
            }
        };
        crate::telemetry::seconds(
            crate::telemetry::metric::ENRICHMENT_SECONDS,
            started.elapsed(),
        );
        f.risk_score = Some(score);
        f.ai_explanation = Some(text);
        f.enriched_by = Some(by);
        f.enriched_severity = Some(f.severity);
        f.model = used.as_ref().map(|(m, _)| m.spec.name.clone());
        f.model_version = used.as_ref().map(|(m, _)| m.spec.version.clone());
        f.prompt_version = used.as_ref().map(|(_, p)| p.spec.version.clone());
        f.prompt_sha256 = used.as_ref().map(|(_, p)| p.spec.sha256.clone());
        f.updated_at = now;
        Ok(blocked)
    }
}
