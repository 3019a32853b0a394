//! The rules stage: judges a batch of events in their event-time context and folds the
//! matches into the findings of their sessions; new or escalated findings go on to
//! enrichment.
//!
//! Per batch and tenant it reads each user's surrounding events once, evaluates every
//! event against them, records the matches per (rule, subject), and re-judges the
//! tenant-wide volume rule once around the minutes the batch touched.
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use vigil_shared::config::Config;
use vigil_shared::domain::{Event, Match, MergeOutcome, TenantId};
use vigil_shared::messages::{EnrichMessage, EnrichReason, EventMessage};
use vigil_shared::ports::{Clock, ItemStore, OutMessage, Queue, QueueName, StoreError};
use vigil_shared::repo::events;
use vigil_shared::rules::{self, RuleContext, RulesConfig, USER_LOOKAROUND, volume};
use vigil_shared::runtime::{
    BuildError, Disposition, HandlerError, MessageMeta, Stage, StagePorts, StageResult,
};
use vigil_shared::service::findings::{Recorded, record_matches, record_volume};
use vigil_shared::telemetry::{self, metric};

/// Most of one user's events read around a batch's events; beyond it counts saturate.
const WINDOW_CAP: usize = 20_000;

pub struct RulesStage {
    pub store: Arc<dyn ItemStore>,
    pub queue: Arc<dyn Queue>,
    pub clock: Arc<dyn Clock>,
    pub config: RulesConfig,
    /// Evidence further apart than this starts a new finding.
    pub gap: Duration,
}

/// The rules stage over `ports` and the configured catalog settings.
pub fn stage(ports: &StagePorts, config: &Config) -> Result<RulesStage, BuildError> {
    Ok(RulesStage {
        store: ports.store.clone(),
        queue: ports.queue.clone(),
        clock: ports.clock.clone(),
        config: config.rules.clone(),
        gap: Duration::minutes(config.dedup_minutes),
    })
}

/// Time ranges covering `times` (sorted) with `reach` either side, merged where they
/// touch, so one read serves a user's events that lie close together.
fn ranges(times: &[DateTime<Utc>], reach: Duration) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut out: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    for &t in times {
        match out.last_mut() {
            Some((_, to)) if t - reach <= *to => *to = t + reach,
            _ => out.push((t - reach, t + reach)),
        }
    }
    out
}

impl RulesStage {
    /// The matches `batch` (one tenant's events) raises, given what is stored around
    /// it, grouped by (rule, subject).
    pub async fn matches_for(
        &self,
        tenant: &TenantId,
        batch: &[Event],
    ) -> Result<BTreeMap<(&'static str, String), Vec<Match>>, StoreError> {
        let store = self.store.as_ref();
        let mut by_user: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
        for e in batch {
            by_user.entry(&e.user).or_default().push(e);
        }
        let mut out: BTreeMap<(&'static str, String), Vec<Match>> = BTreeMap::new();
        for (user, mut mine) in by_user {
            mine.sort_by(|a, b| (a.timestamp, &a.id).cmp(&(b.timestamp, &b.id)));
            let windowed: Vec<DateTime<Utc>> = mine
                .iter()
                .filter(|e| rules::needs_user_window(e))
                .map(|e| e.timestamp)
                .collect();
            let mut around: Vec<Event> = Vec::new();
            for (from, to) in ranges(&windowed, USER_LOOKAROUND) {
                around
                    .extend(events::user_window(store, tenant, user, from, to, WINDOW_CAP).await?);
            }
            // A just-written event may not be visible to an eventually consistent index yet.
            around.extend(mine.iter().map(|e| (*e).clone()));
            around.sort_by(|a, b| (a.timestamp, &a.id).cmp(&(b.timestamp, &b.id)));
            around.dedup_by(|a, b| a.id == b.id);
            for e in &mine {
                let ctx = RuleContext {
                    event: e,
                    user_events: rules::around(&around, e.timestamp),
                    config: &self.config,
                };
                let started = std::time::Instant::now();
                let matches = rules::evaluate(&ctx);
                telemetry::seconds(metric::RULE_EVALUATION_SECONDS, started.elapsed());
                for m in matches {
                    out.entry((m.rule_id, m.subject.clone()))
                        .or_default()
                        .push(m);
                }
            }
        }
        Ok(out)
    }

    /// Judges one tenant's events and records what they raise; the enrichment each
    /// changed finding needs.
    pub async fn judge(
        &self,
        tenant: &TenantId,
        batch: &[Event],
        redelivered: bool,
    ) -> Result<Vec<EnrichMessage>, StoreError> {
        let store = self.store.as_ref();
        let now = self.clock.now();
        let mut recorded: Vec<Recorded> = Vec::new();
        for matches in self.matches_for(tenant, batch).await?.values() {
            recorded.extend(record_matches(store, tenant, matches, self.gap, now).await?);
        }
        let minutes: BTreeSet<i64> = batch
            .iter()
            .map(|e| volume::minute_of(e.timestamp))
            .collect();
        recorded.extend(
            record_volume(
                store,
                tenant,
                &minutes,
                self.config.tenant_hourly_volume,
                self.gap,
                now,
            )
            .await?,
        );
        let mut out: Vec<EnrichMessage> = Vec::new();
        for r in recorded {
            match r.outcome {
                MergeOutcome::Created => telemetry::count(metric::FINDINGS_CREATED, 1),
                MergeOutcome::Escalated => telemetry::count(metric::FINDINGS_ESCALATED, 1),
                _ => {}
            }
            let reason = match r.outcome {
                MergeOutcome::Created => Some(EnrichReason::Created),
                MergeOutcome::Escalated => Some(EnrichReason::Escalated),
                // After a crash the first attempt may have written the finding but not
                // sent it on; a redelivery sends it again (enrichment is idempotent).
                _ if redelivered && r.finding.needs_enrichment() => Some(EnrichReason::Retry),
                _ => None,
            };
            if let Some(reason) = reason {
                if !out.iter().any(|e| e.finding_id == r.finding.id) {
                    out.push(EnrichMessage {
                        tenant: tenant.clone(),
                        finding_id: r.finding.id,
                        reason,
                        request_id: None,
                    });
                }
            }
        }
        Ok(out)
    }

    async fn judge_and_send(
        &self,
        tenant: &TenantId,
        batch: &[Event],
        redelivered: bool,
        request_id: Option<&str>,
    ) -> Result<(), HandlerError> {
        let mut enrich = self.judge(tenant, batch, redelivered).await?;
        if enrich.is_empty() {
            return Ok(());
        }
        for m in &mut enrich {
            m.request_id = request_id.map(str::to_string);
        }
        let bodies = enrich
            .iter()
            .map(|m| serde_json::to_string(m).map(OutMessage::new))
            .collect::<Result<Vec<_>, _>>()?;
        self.queue.send(QueueName::Enrich, bodies).await?;
        Ok(())
    }
}

#[async_trait]
impl Stage for RulesStage {
    const NAME: &'static str = "rules";
    type Message = EventMessage;

    async fn handle(&self, msg: EventMessage, meta: &MessageMeta) -> StageResult {
        self.judge_and_send(
            &msg.tenant,
            &msg.events,
            meta.receive_count > 1,
            msg.request_id.as_deref(),
        )
        .await?;
        tracing::debug!(events = msg.events.len(), "rules evaluated");
        Ok(Disposition::Done)
    }

    async fn handle_batch(
        &self,
        messages: Vec<EventMessage>,
        metas: &[MessageMeta],
    ) -> Option<Result<(), HandlerError>> {
        let redelivered = metas.iter().any(|m| m.receive_count > 1);
        let mut groups: Vec<(TenantId, Option<String>, Vec<Event>)> = Vec::new();
        for m in messages {
            match groups.iter_mut().find(|(t, _, _)| *t == m.tenant) {
                Some((_, _, events)) => events.extend(m.events),
                None => groups.push((m.tenant, m.request_id, m.events)),
            }
        }
        for (tenant, request_id, batch) in &groups {
            if let Err(e) = self
                .judge_and_send(tenant, batch, redelivered, request_id.as_deref())
                .await
            {
                return Some(Err(e));
            }
        }
        Some(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_events_share_one_read() {
        let t = |m: i64| DateTime::from_timestamp(m * 60, 0).unwrap();
        let r = ranges(&[t(0), t(30), t(200)], Duration::minutes(60));
        assert_eq!(r, vec![(t(-60), t(90)), (t(140), t(260))]);
    }
}
