//! The enrich stage: scores and explains new or escalated findings, then announces them
//! on the event bus as `finding.created` / `finding.escalated`.
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;
use vigil_shared::domain::{Finding, TenantId};
use vigil_shared::enrich::Enricher;
use vigil_shared::messages::{EnrichMessage, EnrichReason};
use vigil_shared::ports::{Clock, DomainEvent, EventBus, ItemStore};
use vigil_shared::runtime::{HandlerError, MessageHandler, parse_body};

// Enriching a stored finding lives in vigil-shared so the API can enrich on demand without
// linking this stage; re-exported so callers of this crate keep their paths.
pub use vigil_shared::enrich::{enrich_finding, enrich_finding_audited};

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
    }
}

pub struct EnrichHandler {
    pub store: Arc<dyn ItemStore>,
    pub bus: Arc<dyn EventBus>,
    pub enricher: Enricher,
    pub clock: Arc<dyn Clock>,
}

#[async_trait]
impl MessageHandler for EnrichHandler {
    async fn handle(&self, body: &str, _receive_count: u32) -> Result<(), HandlerError> {
        let msg: EnrichMessage = parse_body(body)?;
        let now = self.clock.now();
        let Some(finding) = enrich_finding(
            self.store.as_ref(),
            &self.enricher,
            &msg.tenant,
            &msg.finding_id,
            false,
            now,
        )
        .await?
        else {
            tracing::warn!(finding = %msg.finding_id, "finding to enrich does not exist; dropping");
            return Ok(());
        };
        self.bus
            .publish(&[finding_event(&msg.tenant, &finding, msg.reason, now)])
            .await?;
        Ok(())
    }
}
