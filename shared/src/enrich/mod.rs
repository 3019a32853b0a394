//! Risk scoring and explanation of findings: a model when configured, the governance
//! gate approves both the model and the prompt for `enrichment` and the model's breaker
//! is closed; else the heuristic.
pub mod heuristic;
pub mod llm;

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::config::ResilienceSettings;
use crate::domain::{EnrichedBy, Finding, TenantId};
use crate::governance::registry::ENRICHMENT;
use crate::governance::{ApprovedModel, ApprovedPrompt, Blocked, GateError, Kind, builtin, gate};
use crate::ports::{ItemStore, StoreError};
use crate::resilience::{Admission, BreakerKey, Breakers, Bulkhead, Prices, usage};
pub use llm::{LlmClient, LlmConfig};

#[derive(Clone, Default)]
pub struct Enricher {
    llm: Option<Arc<ModelPath>>,
}

/// The model and what guards calls to it: a breaker shared by every instance, a
/// bulkhead per tenant in this process, and the prices its tokens are costed at.
struct ModelPath {
    client: LlmClient,
    breaker: BreakerKey,
    breakers: Breakers,
    bulkhead: Bulkhead,
    prices: Prices,
}

/// Where an enrichment runs: the store the gate, the breaker and usage live in, and
/// whether it may wait for a model slot.
pub struct EnrichContext<'a> {
    pub store: &'a dyn ItemStore,
    pub tenant: &'a TenantId,
    pub now: DateTime<Utc>,
    /// A queue message can be put back when the tenant's model slots are all taken; a
    /// person's request waits for one.
    pub wait_for_slot: bool,
}

/// Every model slot of the tenant is taken: try again shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("all model slots of the tenant are busy")]
pub struct Busy;

/// Why a finding was not enriched.
#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The tenant's model calls are all in flight (its bulkhead is full).
    #[error(transparent)]
    Busy(#[from] Busy),
}

/// What one enrichment came to besides the finding's new fields: the gate's refusal, if
/// it refused the model or the prompt (the finding then holds the heuristic's answer).
pub type Outcome = Option<Blocked>;

impl Enricher {
    pub fn heuristic() -> Self {
        Self { llm: None }
    }

    pub fn with_llm(client: LlmClient, settings: &ResilienceSettings) -> Self {
        Self {
            llm: Some(Arc::new(ModelPath {
                breaker: BreakerKey::llm(&client.config().url),
                client,
                breakers: Breakers::new(settings.breaker),
                bulkhead: Bulkhead::new(settings.llm_concurrency_per_tenant),
                prices: settings.prices,
            })),
        }
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
    /// (the caller retries), as is a full bulkhead when the caller cannot wait; a
    /// refusal by the gate is the outcome.
    pub async fn enrich(
        &self,
        ctx: &EnrichContext<'_>,
        f: &mut Finding,
    ) -> Result<Outcome, EnrichError> {
        let started = std::time::Instant::now();
        let now = ctx.now;
        let mut blocked = None;
        let mut used = None;
        let modelled = match &self.llm {
            Some(path) => match self
                .governed(ctx.store, ctx.tenant, &path.client, now)
                .await?
            {
                Err(b) => {
                    tracing::warn!(finding = %f.id, blocked = %b, "governance gate blocked the model or prompt; using the heuristic");
                    crate::telemetry::count_in(
                        crate::telemetry::metric::GOVERNANCE_BLOCKS,
                        b.kind().as_str(),
                        1,
                    );
                    blocked = Some(b);
                    None
                }
                Ok((model, prompt)) => {
                    let answer = path.assess(ctx, f, &model, &prompt).await?;
                    if answer.is_some() {
                        used = Some((model, prompt));
                    }
                    answer
                }
            },
            None => None,
        };
        let (score, text, by) = match modelled {
            Some((s, t)) => (s, t, EnrichedBy::Llm),
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

impl ModelPath {
    /// The model's score and explanation, or None to fall back to the heuristic.
    async fn assess(
        &self,
        ctx: &EnrichContext<'_>,
        f: &Finding,
        model: &ApprovedModel,
        prompt: &ApprovedPrompt,
    ) -> Result<Option<(f64, String)>, Busy> {
        let slot = if ctx.wait_for_slot {
            self.bulkhead.enter(ctx.tenant).await
        } else {
            self.bulkhead.try_enter(ctx.tenant)
        };
        let Some(_slot) = slot else {
            return Err(Busy);
        };
        // A store that cannot answer must not also take the model away: admit then.
        let admission = self
            .breakers
            .admit(ctx.store, &self.breaker, ctx.now)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "breaker state unreadable; calling the model");
                Admission::Allowed
            });
        if let Admission::Refused { until } = admission {
            tracing::info!(finding = %f.id, %until, "model breaker open; using the heuristic");
            crate::telemetry::count(crate::telemetry::metric::ENRICHMENT_FALLBACKS, 1);
            return Ok(None);
        }
        let outcome = self.client.assess(f, model, prompt).await;
        let failure = match &outcome {
            Err(e) if e.is_endpoint_failure() => Some(e.to_string()),
            _ => None,
        };
        if let Err(e) = self
            .breakers
            .record(ctx.store, &self.breaker, failure.as_deref(), ctx.now)
            .await
        {
            tracing::warn!(error = %e, "breaker state not recorded");
        }
        match outcome {
            Ok(answer) => {
                let tokens = answer.tokens;
                crate::telemetry::count(
                    crate::telemetry::metric::LLM_TOKENS,
                    usize::try_from(tokens.prompt_tokens + tokens.completion_tokens)
                        .unwrap_or(usize::MAX),
                );
                let recorded = usage::record(
                    ctx.store,
                    ctx.tenant,
                    &model.spec.name,
                    ENRICHMENT,
                    tokens,
                    self.prices,
                    ctx.now,
                )
                .await;
                if let Err(e) = recorded {
                    tracing::warn!(error = %e, "model usage not recorded");
                }
                Ok(Some((answer.risk_score, answer.explanation)))
            }
            Err(e) => {
                tracing::warn!(finding = %f.id, error = %e, "model enrichment failed; using the heuristic");
                crate::telemetry::count(crate::telemetry::metric::ENRICHMENT_FALLBACKS, 1);
                Ok(None)
            }
        }
    }
}
