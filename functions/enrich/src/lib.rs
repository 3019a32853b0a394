//! The enrich stage: scores and explains new or escalated findings, then announces them
//! on the event bus as `finding.created` / `finding.escalated`.
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;
use vigil_shared::config::Config;
use vigil_shared::domain::{Finding, TenantId};
use vigil_shared::enrich::Enricher;
use vigil_shared::messages::{EnrichMessage, EnrichReason};
use vigil_shared::ports::{Clock, DomainEvent, EventBus, ItemStore};
use vigil_shared::runtime::{BuildError, Disposition, MessageMeta, Stage, StagePorts, StageResult};
use vigil_shared::service::findings::{self, EnrichError};

/// The bus event announcing a finding; its id is stable so consumers can de-duplicate.
pub fn finding_event(
    tenant: &TenantId,
    f: &Finding,
    reason: EnrichReason,
    now: DateTime<Utc>,
) -> DomainEvent {
    let (detail_type, id) = match reason {
        EnrichReason::Escalated => (
            "finding.escalated",
            format!("{}:escalated:{}", f.id, f.severity),
        ),
        EnrichReason::Created | EnrichReason::Retry => {
            ("finding.created", format!("{}:created", f.id))
        }
    };
    DomainEvent {
        id,
        tenant: tenant.to_string(),
        detail_type: detail_type.to_string(),
        time: now,
        detail: json!({
            "finding_id": f.id,
            "rule_id": f.rule_id,
            "rule_name": f.rule_name,
            "severity": f.severity,
            "title": f.title,
            "user": f.user,
            "status": f.status,
            "risk_score": f.risk_score,
            "enriched_by": f.enriched_by,
            "event_count": f.event_ids.len(),
            "first_seen": f.first_seen,
            "last_seen": f.last_seen,
        }),
        request_id: None,
    }
}

/// How long a message waits when its tenant's model slots are all taken.
const BUSY_RETRY: std::time::Duration = std::time::Duration::from_secs(2);

pub struct EnrichStage {
    pub store: Arc<dyn ItemStore>,
    pub bus: Arc<dyn EventBus>,
    pub enricher: Enricher,
    pub clock: Arc<dyn Clock>,
}

/// The enrich stage over `ports` (which must have a bus). The enricher is built apart,
/// by `wiring::enricher` on AWS, because it may read its model key from a secret.
pub fn stage(
    ports: &StagePorts,
    _config: &Config,
    enricher: Enricher,
) -> Result<EnrichStage, BuildError> {
    Ok(EnrichStage {
        store: ports.store.clone(),
        bus: ports.require_bus()?,
        enricher,
        clock: ports.clock.clone(),
    })
}

#[async_trait]
impl Stage for EnrichStage {
    const NAME: &'static str = "enrich";
    type Message = EnrichMessage;

    async fn handle(&self, msg: EnrichMessage, _meta: &MessageMeta) -> StageResult {
        let now = self.clock.now();
        let enriched = findings::enrich(
            self.store.as_ref(),
            &self.enricher,
            &msg.tenant,
            &msg.finding_id,
            false,
            now,
            None,
        )
        .await;
        let found = match enriched {
            Ok(found) => found,
            // The tenant's model slots are all taken: give the worker to another
            // tenant's message and come back to this one shortly.
            Err(EnrichError::Busy(_)) => return Ok(Disposition::RetryAfter(BUSY_RETRY)),
            Err(EnrichError::Store(e)) => return Err(e.into()),
        };
        let Some(finding) = found else {
            tracing::warn!(finding = %msg.finding_id, "finding to enrich does not exist; dropping");
            return Ok(Disposition::Done);
        };
        let mut event = finding_event(&msg.tenant, &finding, msg.reason, now);
        event.request_id = msg.request_id;
        self.bus.publish(&[event]).await?;
        Ok(Disposition::Done)
    }
}
