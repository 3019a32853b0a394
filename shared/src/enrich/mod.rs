//! Risk scoring and explanation of findings: a model when configured, else the heuristic.
pub mod heuristic;
pub mod llm;

use chrono::{DateTime, Utc};

use crate::domain::{EnrichedBy, Finding};
pub use llm::{LlmClient, LlmConfig};

#[derive(Clone, Default)]
pub struct Enricher {
    llm: Option<LlmClient>,
}

impl Enricher {
    pub fn heuristic() -> Self {
        Self { llm: None }
    }

    pub fn with_llm(llm: LlmClient) -> Self {
        Self { llm: Some(llm) }
    }

    /// Sets `risk_score`, `ai_explanation` and `enriched_by` on `f`.
    pub async fn enrich(&self, f: &mut Finding, now: DateTime<Utc>) {
        let started = std::time::Instant::now();
        let (score, text, by) = match &self.llm {
            Some(llm) => match llm.assess(f).await {
                Ok((s, t)) => (s, t, EnrichedBy::Llm),
                Err(e) => {
                    tracing::warn!(finding = %f.id, error = %e, "model enrichment failed; using the heuristic");
                    crate::telemetry::count(crate::telemetry::metric::ENRICHMENT_FALLBACKS, 1);
                    let (s, t) = heuristic::score(f);
                    (s, t, EnrichedBy::Heuristic)
                }
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
        f.updated_at = now;
    }
}
