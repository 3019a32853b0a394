//! Risk scoring and explanation of findings: a model when configured, else the heuristic.
pub mod heuristic;
pub mod llm;

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::config::ResilienceSettings;
use crate::domain::{EnrichedBy, Finding, TenantId};
use crate::ports::ItemStore;
use crate::resilience::{Admission, BreakerKey, Breakers, Bulkhead, Prices, usage};
pub use llm::{LlmClient, LlmConfig};

/// What usage is recorded under.
pub const PURPOSE: &str = "enrichment";

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

/// Where an enrichment runs: the store the breaker and usage live in, and whether it may
/// wait for a model slot.
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

    /// Sets `risk_score`, `ai_explanation` and `enriched_by` on `f`: by the model when
    /// one is configured and its breaker is closed, else by the heuristic.
    pub async fn enrich(&self, ctx: &EnrichContext<'_>, f: &mut Finding) -> Result<(), Busy> {
        let started = std::time::Instant::now();
        let now = ctx.now;
        let modelled = match &self.llm {
            Some(path) => path.assess(ctx, f).await?,
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
        f.updated_at = now;
        Ok(())
    }
}

impl ModelPath {
    /// The model's score and explanation, or None to fall back to the heuristic.
    async fn assess(
        &self,
        ctx: &EnrichContext<'_>,
        f: &Finding,
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
        let outcome = self.client.assess(f).await;
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
                let model = &self.client.config().model;
                if let Err(e) = usage::record(
                    ctx.store,
                    ctx.tenant,
                    model,
                    PURPOSE,
                    tokens,
                    self.prices,
                    ctx.now,
                )
                .await
                {
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
