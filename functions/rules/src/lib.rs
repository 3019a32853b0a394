//! The rules stage: evaluates the catalog on an event in its event-time context and
//! merges matches into findings; new or escalated findings go on to enrichment.
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vigil_shared::config::Config;
use vigil_shared::domain::{Event, Match, MergeOutcome, TenantId};
use vigil_shared::messages::{EnrichMessage, EnrichReason, EventMessage};
use vigil_shared::ports::{Clock, ItemStore, OutMessage, Queue, QueueName, StoreError};
use vigil_shared::repo::events;
use vigil_shared::rules::{self, RuleContext, RulesConfig, USER_LOOKAROUND};
use vigil_shared::runtime::{BuildError, Disposition, MessageMeta, Stage, StagePorts, StageResult};
use vigil_shared::service::findings::record_match;

/// Most of one user's events read around an event; beyond it counts saturate anyway.
const WINDOW_CAP: usize = 2_000;

pub struct RulesStage {
    pub store: Arc<dyn ItemStore>,
    pub queue: Arc<dyn Queue>,
    pub clock: Arc<dyn Clock>,
    pub config: RulesConfig,
    pub dedup_minutes: i64,
}

/// The rules stage over `ports` and the configured catalog settings.
pub fn stage(ports: &StagePorts, config: &Config) -> Result<RulesStage, BuildError> {
    Ok(RulesStage {
        store: ports.store.clone(),
        queue: ports.queue.clone(),
        clock: ports.clock.clone(),
        config: config.rules.clone(),
        dedup_minutes: config.dedup_minutes,
    })
}

impl RulesStage {
    /// The matches an event raises, given what is stored around it.
    pub async fn matches_for(
        &self,
        tenant: &TenantId,
        event: &Event,
    ) -> Result<Vec<Match>, StoreError> {
        let store = self.store.as_ref();
        let mut user_events = if rules::needs_user_window(event) {
            events::user_window(
                store,
                tenant,
                &event.user,
                event.timestamp - USER_LOOKAROUND,
                event.timestamp + USER_LOOKAROUND,
                WINDOW_CAP,
            )
            .await?
        } else {
            Vec::new()
        };
        // A just-written event may not be visible to an eventually consistent index yet.
        if !user_events.iter().any(|e| e.id == event.id) {
            user_events.push(event.clone());
            user_events.sort_by(|a, b| a.timestamp.cmp(&b.timestamp).then_with(|| a.id.cmp(&b.id)));
        }
        let tenant_hour_count = events::hour_count(store, tenant, event.timestamp).await?;
        let ctx = RuleContext {
            event,
            user_events: &user_events,
            tenant_hour_count,
            config: &self.config,
        };
        Ok(rules::evaluate(&ctx))
    }

    async fn apply(
        &self,
        tenant: &TenantId,
        matches: &[Match],
        now: DateTime<Utc>,
        redelivered: bool,
    ) -> Result<Vec<EnrichMessage>, StoreError> {
        let mut out = Vec::new();
        for m in matches {
            let (finding, outcome) =
                record_match(self.store.as_ref(), tenant, m, self.dedup_minutes, now).await?;
            let reason = match outcome {
                MergeOutcome::Created => Some(EnrichReason::Created),
                MergeOutcome::Escalated => Some(EnrichReason::Escalated),
                // After a crash the first attempt may have written the finding but not
                // sent it on; a redelivery sends it again (enrichment is idempotent).
                _ if redelivered && finding.needs_enrichment() => Some(EnrichReason::Retry),
                _ => None,
            };
            if let Some(reason) = reason {
                if !out
                    .iter()
                    .any(|e: &EnrichMessage| e.finding_id == finding.id)
                {
                    out.push(EnrichMessage {
                        tenant: tenant.clone(),
                        finding_id: finding.id,
                        reason,
                        request_id: None,
                    });
                }
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl Stage for RulesStage {
    const NAME: &'static str = "rules";
    type Message = EventMessage;

    async fn handle(&self, msg: EventMessage, meta: &MessageMeta) -> StageResult {
        let matches = self.matches_for(&msg.tenant, &msg.event).await?;
        let mut enrich = self
            .apply(
                &msg.tenant,
                &matches,
                self.clock.now(),
                meta.receive_count > 1,
            )
            .await?;
        if !enrich.is_empty() {
            for m in &mut enrich {
                m.request_id.clone_from(&msg.request_id);
            }
            let bodies = enrich
                .iter()
                .map(|m| serde_json::to_string(m).map(OutMessage::new))
                .collect::<Result<Vec<_>, _>>()?;
            self.queue.send(QueueName::Enrich, bodies).await?;
        }
        tracing::debug!(event = %msg.event.id, matches = matches.len(), "rules evaluated");
        Ok(Disposition::Done)
    }
}
